//! Cross-replica invalidation: every replica subscribes to `{prefix}invalidate`; a message is a
//! cache key (e.g. `product:7`) whose in-process copies the replica drops at once. The
//! subscription reconnects by itself; after a reconnect the replica drops all its in-process
//! copies, since messages may have been missed meanwhile.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::SharedCatalogue;

/// Wait between subscription attempts while Redis is away.
const RETRY: Duration = Duration::from_millis(250);

/// Starts the subscription task of `catalogue` (it ends when the catalogue is dropped).
pub fn subscribe(catalogue: &Arc<SharedCatalogue>) {
    let weak = Arc::downgrade(catalogue);
    let client = catalogue.redis().client().clone();
    let channel = catalogue.channel();
    let connect_timeout = catalogue.redis().timeout().max(Duration::from_millis(500));
    tokio::spawn(async move {
        loop {
            let connected = tokio::time::timeout(connect_timeout, async {
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            })
            .await;
            if let Ok(Ok(mut pubsub)) = connected {
                match weak.upgrade() {
                    Some(catalogue) => catalogue.clear_local(),
                    None => return,
                }
                tracing::debug!(channel = %channel, "subscribed to catalogue invalidations");
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    let Some(catalogue) = weak.upgrade() else {
                        return;
                    };
                    if let Ok(key) = message.get_payload::<String>() {
                        catalogue.drop_local(&key).await;
                    }
                }
                // The connection is gone: copies may miss messages from now on.
                match weak.upgrade() {
                    Some(catalogue) => catalogue.clear_local(),
                    None => return,
                }
            }
            if weak.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(RETRY).await;
        }
    });
}
