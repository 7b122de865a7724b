//! The hub in memory: a [`HubServer`] on a [`ServerPair`], and what most hub tests do
//! first — publish over HTTP and read JSON back.

use pushwire::hub::{HubConfig, HubServer};
use pushwire::pair::ServerPair;
use serde_json::Value;

use super::{Client, Recording, config, memory_server};

/// An in-memory server running the hub.
pub type HubPair = ServerPair<Recording<HubServer>>;

/// The hub with these settings, in memory, with the tests' server [`config`].
pub fn hub_with(h: HubConfig) -> HubPair {
    memory_server(config(), HubServer::new(h)).0
}

/// The hub with the default settings.
pub fn hub() -> HubPair {
    hub_with(HubConfig::default())
}

/// `text` as JSON (fails the test, showing the text, if it is not).
pub fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

/// `POST /channels/{channel}` with `data` as text on a fresh connection; must be `201`.
/// Returns the answer, `{"id":N,"epoch":"E"}`.
pub fn publish(pair: &mut HubPair, channel: &str, data: &str) -> Value {
    let response =
        Client::connect(pair).post(pair, &format!("/channels/{channel}"), data.as_bytes());
    assert_eq!(response.status, 201, "{response:?}");
    parse_json(&response.body_text())
}

/// [`publish`], returning the stream's epoch.
pub fn publish_epoch(pair: &mut HubPair, channel: &str, data: &str) -> String {
    publish(pair, channel, data)["epoch"]
        .as_str()
        .expect("an epoch")
        .to_string()
}

/// The `(channel, id)` of every `pushwire.v1` message frame among `frames`.
pub fn channel_messages(frames: &[Value]) -> Vec<(String, u64)> {
    frames
        .iter()
        .filter(|f| f["type"] == "message")
        .map(|f| {
            (
                f["channel"].as_str().unwrap().to_string(),
                f["id"].as_u64().unwrap(),
            )
        })
        .collect()
}
