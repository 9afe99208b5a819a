//! Wake-ups: a subscription to the semaphore's release channel.
//!
//! A round trip that frees a permit while other processes wait publishes on the channel, and
//! each waiting process then asks Redis once (its driver asks for all its waiters at once).
//! A process that starts waiting publishes too (`w:<process>`), so that holders stop passing
//! leases on among their own tasks.
//! Pub/sub rather than a list of tokens (`BLPOP`): a message costs nothing when nobody
//! waits, a crashed holder cannot take a token with it, and one connection per process serves
//! every waiter. Messages are not stored, so one sent while the subscription is down is lost:
//! the subscriber then tells the driver to look again, and the driver's poll (at most the poll
//! interval, and at the earliest lease expiry) is the safety net.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::shared::Shared;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Subscribes, forwards wake-ups to the driver, and resubscribes after a failure; runs until
/// aborted by the driver.
pub(super) async fn run(client: redis::Client, shared: Arc<Shared>) {
    let config = &shared.config;
    let mut backoff = MIN_BACKOFF;
    loop {
        let connected = tokio::time::timeout(config.command_timeout, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&config.channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        if let Ok(Ok(pubsub)) = connected {
            backoff = MIN_BACKOFF;
            // Messages published while this process was not subscribed were missed: releases,
            // and other processes starting to wait (assumed until a reply says none does).
            shared.subscribed();
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                // The payload names the publishing process: its own releases serve its own
                // waiters in the same round trip already, and its own wait is no news.
                let payload = message.get_payload_bytes();
                let me = config.process_id.as_bytes();
                match payload.strip_prefix(b"w:") {
                    Some(waiter) if waiter != me => shared.others_joined(),
                    None if payload != me => shared.possible_release(),
                    _ => {}
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
