//! Against the real PostgreSQL server: one `= ANY($1)` query per batch, rows routed to
//! their callers, absent rows `NotFound`, a failing query a shared `Failed` error.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use asyncperf_batcher::{BatchError, Batcher};
use tokio_postgres::{Client, NoTls};

async fn connect() -> Option<Arc<Client>> {
    let url = asyncperf_testkit::postgres_url()?;
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);
    Some(Arc::new(client))
}

/// A table only this test run uses (the server is shared).
fn table_name() -> String {
    asyncperf_testkit::unique_name("batcher_users")
}

type Users = Batcher<i64, String, tokio_postgres::Error>;

fn users(client: &Arc<Client>, table: &str, queries: &Arc<AtomicUsize>) -> Users {
    let (client, queries) = (Arc::clone(client), Arc::clone(queries));
    let sql = format!("SELECT id, name FROM {table} WHERE id = ANY($1)");
    Batcher::builder()
        .max_batch_size(100)
        .build(move |ids: Vec<i64>| {
            let (client, queries, sql) = (Arc::clone(&client), Arc::clone(&queries), sql.clone());
            async move {
                queries.fetch_add(1, Ordering::SeqCst);
                let rows = client.query(&sql, &[&ids]).await?;
                Ok(rows
                    .iter()
                    .map(|row| (row.get::<_, i64>(0), row.get::<_, String>(1)))
                    .collect::<HashMap<_, _>>())
            }
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_become_one_query_per_batch_against_postgres() {
    let Some(client) = connect().await else {
        return;
    };
    let table = table_name();
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO {table} SELECT i, 'user ' || i FROM generate_series(1, 500) AS i;"
        ))
        .await
        .expect("create the test table");

    let queries = Arc::new(AtomicUsize::new(0));
    let b = users(&client, &table, &queries);

    // One call, 1000 keys over 600 distinct ids (100 of them absent): 6 full batches.
    let ids: Vec<i64> = (0..1000).map(|i| i % 600 + 1).collect();
    let results = b.load_many(ids.clone()).await;
    for (id, result) in ids.iter().zip(&results) {
        if *id <= 500 {
            assert_eq!(result.as_ref().unwrap(), &format!("user {id}"));
        } else {
            assert!(result.as_ref().unwrap_err().is_not_found(), "id {id}");
        }
    }
    assert_eq!(queries.load(Ordering::SeqCst), 6);
    assert_eq!(b.stats().keys_loaded, 600, "each distinct id queried once");

    // The same from 1000 concurrent tasks: every caller gets its own row.
    let tasks: Vec<_> = ids
        .iter()
        .map(|&id| {
            let b = b.clone();
            tokio::spawn(async move { (id, b.load(id).await) })
        })
        .collect();
    for task in tasks {
        let (id, result) = task.await.unwrap();
        if id <= 500 {
            assert_eq!(result.unwrap(), format!("user {id}"));
        } else {
            assert!(result.unwrap_err().is_not_found());
        }
    }
    let stats = b.stats();
    assert_eq!(stats.keys_loaded + stats.keys_coalesced, 2000);
    assert_eq!(stats.batches, queries.load(Ordering::SeqCst) as u64);
    assert!(
        stats.batches < 100,
        "batched: {} queries for 1000 loads",
        stats.batches
    );

    client
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .expect("drop the test table");

    // The table is gone: the query fails, and every key of the batch shares that error.
    let results = b.load_many([1, 2, 3]).await;
    let errors: Vec<_> = results
        .iter()
        .map(|r| match r {
            Err(BatchError::Failed(e)) => Arc::clone(e),
            other => panic!("expected the query's error, got {other:?}"),
        })
        .collect();
    assert!(errors.windows(2).all(|w| Arc::ptr_eq(&w[0], &w[1])));
    assert!(errors[0].as_db_error().is_some(), "{}", errors[0]);
}
