//! Wake-ups: a subscription to the semaphore's release channel.
//!
//! A round trip that frees a permit while other processes wait publishes on the channel, and
//! each waiting process then asks Redis once (its driver asks for all its waiters at once).
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
            // Releases published while this process was not subscribed were missed.
            shared.possible_release();
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                // The payload is the publishing process: its own releases serve its own
                // waiters in the same round trip already.
                if message.get_payload_bytes() != config.process_id.as_bytes() {
                    shared.possible_release();
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
