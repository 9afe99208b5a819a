//! Resolving the authors of a page of posts without N+1 queries: one batcher per request,
//! one `WHERE id = ANY($1)` query per batch.
//!
//! Run against a PostgreSQL server (`DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`):
//!
//! ```sh
//! cargo run -p asyncperf-batcher --example postgres
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use asyncperf_batcher::{BatchError, Batcher};
use tokio_postgres::{Client, NoTls};

#[derive(Clone, Debug)]
struct Author {
    id: i64,
    name: String,
}

/// Built per request: the closure is where request context (tenant, auth, transaction)
/// would go. Building it spawns nothing.
fn authors(client: Arc<Client>) -> Batcher<i64, Author, tokio_postgres::Error> {
    Batcher::builder()
        .max_batch_size(500)
        .build(move |ids: Vec<i64>| {
            let client = Arc::clone(&client);
            async move {
                let rows = client
                    .query(
                        "SELECT id, name FROM example_authors WHERE id = ANY($1)",
                        &[&ids],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        let id: i64 = r.get(0);
                        (id, Author { id, name: r.get(1) })
                    })
                    .collect::<HashMap<_, _>>())
            }
        })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(
            "CREATE TEMP TABLE example_authors (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO example_authors VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Barbara');",
        )
        .await?;

    let loader = authors(Arc::new(client));
    // A page of posts, each resolving its author concurrently (as GraphQL resolvers do).
    let posts = [(10, 1), (11, 2), (12, 1), (13, 3), (14, 9)];
    let resolved = futures::future::join_all(posts.iter().map(|&(post, author)| {
        let loader = &loader;
        async move { (post, loader.load(author).await) }
    }))
    .await;
    for (post, author) in resolved {
        match author {
            Ok(Author { id, name }) => println!("post {post}: author {id} {name}"),
            Err(BatchError::NotFound) => println!("post {post}: author deleted"),
            Err(e) => println!("post {post}: {e}"),
        }
    }
    let stats = loader.stats();
    println!(
        "{} loads, {} query, {} distinct authors",
        posts.len(),
        stats.batches,
        stats.keys_loaded
    );
    Ok(())
}
