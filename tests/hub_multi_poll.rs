//! One long-poll on several channels: `GET /poll?channel=a&since=N&channel=b…`, through
//! `HubServer` in memory on the virtual clock — answered at once when any channel has
//! news, parked on all of them otherwise and answered whole by the first publish, every
//! channel's cursor at the timeout, every channel listed in its order with its `next`,
//! resets, one budget of bytes for the answer, and a client that leaves.

mod support;

use std::time::Duration;

use pushwire::hub::{HubConfig, HubServer};
use pushwire::pair::ServerPair;
use serde_json::{Value, json};
use support::*;

type Pair = ServerPair<Recording<HubServer>>;

fn hub_with(h: HubConfig) -> Pair {
    memory_server(config(), HubServer::new(h)).0
}

fn hub() -> Pair {
    hub_with(HubConfig::default())
}

fn body(response: &HttpResponse) -> Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", response.body_text()))
}

fn publish(pair: &mut Pair, channel: &str, data: &str) -> String {
    let response =
        Client::connect(pair).post(pair, &format!("/channels/{channel}"), data.as_bytes());
    assert_eq!(response.status, 201, "{response:?}");
    body(&response)["epoch"].as_str().unwrap().to_string()
}

fn send_poll(pair: &mut Pair, target: &str) -> Client {
    let mut client = Client::connect(pair);
    let request = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
    client.send(pair, request.as_bytes());
    client
}

fn parked(pair: &Pair) -> usize {
    pair.handler().inner().hub().stats().parked
}

#[test]
fn a_channel_with_news_answers_at_once_listing_every_channel_in_order() {
    let mut pair = hub();
    let epoch_a = publish(&mut pair, "a", "a1");
    publish(&mut pair, "a", "a2");
    let epoch_b = publish(&mut pair, "b", "b1");
    let target = "/poll?channel=b&since=1&channel=a&since=1&channel=new";
    let response = send_poll(&mut pair, target).response(&mut pair);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        body(&response),
        json!({"channels":[
            {"channel":"b","epoch":epoch_b,"messages":[],"next":1},
            {"channel":"a","epoch":epoch_a,"messages":[{"id":2,"data":"a2"}],"next":2},
            {"channel":"new","messages":[],"next":0},
        ]})
    );
    assert_eq!(parked(&pair), 0);
}

#[test]
fn a_poll_with_no_news_waits_on_every_channel_and_the_first_publish_answers_it_whole() {
    let mut pair = hub();
    let epoch_a = publish(&mut pair, "a", "a1");
    let mut client = send_poll(&mut pair, "/poll?channel=a&since=1&channel=b&timeout=30");
    assert!(client.try_response(&mut pair).is_none());
    assert_eq!(parked(&pair), 2, "parked on both channels");
    let epoch_b = publish(&mut pair, "b", "b1");
    let response = client.response(&mut pair);
    assert_eq!(
        body(&response),
        json!({"channels":[
            {"channel":"a","epoch":epoch_a,"messages":[],"next":1},
            {"channel":"b","epoch":epoch_b,"messages":[{"id":1,"data":"b1"}],"next":1},
        ]})
    );
    // Answered once, and no longer waiting anywhere: the next publish reaches no one.
    assert_eq!(parked(&pair), 0);
    publish(&mut pair, "a", "a2");
    client.nothing(&mut pair);
    // The connection is ready for the next poll, from the cursors it was given.
    client.send(
        &mut pair,
        format!("GET /poll?channel=a&since=1&epoch={epoch_a}&channel=b&since=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            .as_bytes(),
    );
    let response = client.response(&mut pair);
    assert_eq!(body(&response)["channels"][0]["messages"][0]["id"], 2);
}

#[test]
fn a_parked_poll_without_since_gets_what_was_published_after_it_parked() {
    let mut pair = hub();
    publish(&mut pair, "a", "old");
    let mut client = send_poll(&mut pair, "/poll?channel=a&channel=b");
    assert!(client.try_response(&mut pair).is_none());
    publish(&mut pair, "a", "new");
    let answer = body(&client.response(&mut pair));
    assert_eq!(
        answer["channels"][0]["messages"],
        json!([{"id":2,"data":"new"}])
    );
    assert_eq!(answer["channels"][1]["messages"], json!([]));
}

#[test]
fn with_no_news_by_the_timeout_or_at_once_the_answer_is_every_channels_cursor() {
    let mut pair = hub();
    let epoch_a = publish(&mut pair, "a", "a1");
    let mut client = send_poll(&mut pair, "/poll?channel=a&channel=b&timeout=2");
    pair.advance(Duration::from_millis(1999));
    assert!(client.try_response(&mut pair).is_none());
    pair.advance(Duration::from_millis(1));
    // Never 204: a channel asked for "from now on" learns where now is, so nothing
    // published before the next poll can slip past it.
    let response = client.response(&mut pair);
    assert_eq!(response.status, 200);
    assert_eq!(
        body(&response),
        json!({"channels":[
            {"channel":"a","epoch":epoch_a,"messages":[],"next":1},
            {"channel":"b","messages":[],"next":0},
        ]})
    );
    assert_eq!(parked(&pair), 0);
    assert_eq!(pair.handler().inner().hub().channel_count(), 1);
    publish(&mut pair, "a", "a2");
    let target = format!("/poll?channel=a&since=1&epoch={epoch_a}&channel=b&since=0&timeout=0");
    let answer = body(&send_poll(&mut pair, &target).response(&mut pair));
    assert_eq!(
        answer["channels"][0]["messages"],
        json!([{"id":2,"data":"a2"}])
    );

    let response = send_poll(&mut pair, "/poll?channel=a&since=2&timeout=0").response(&mut pair);
    assert_eq!(response.status, 200);
    assert_eq!(body(&response)["channels"][0]["next"], 2);
    let mut head = Client::connect(&mut pair);
    head.send(
        &mut pair,
        b"HEAD /poll?channel=a HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(head.head_response(&mut pair).status, 200);
    assert_eq!(parked(&pair), 0);
}

#[test]
fn a_cursor_from_another_stream_is_reset_in_its_own_entry() {
    let mut other = hub();
    let old = publish(&mut other, "a", "x");
    let mut pair = hub();
    let epoch = publish(&mut pair, "a", "first");
    let target = format!("/poll?channel=a&since=5&epoch={old}&channel=b");
    let answer = body(&send_poll(&mut pair, &target).response(&mut pair));
    assert_eq!(
        answer["channels"][0],
        json!({"channel":"a","epoch":epoch,"reset":true,"messages":[{"id":1,"data":"first"}],"next":1})
    );
}

#[test]
fn malformed_multi_channel_polls_are_400_and_too_many_channels_429() {
    let mut h = HubConfig::default();
    h.max_subscriptions = 2;
    let mut pair = hub_with(h);
    for (target, status) in [
        ("/poll", 400),
        ("/poll?timeout=1", 400),
        ("/poll?since=1&channel=a", 400),
        ("/poll?channel=a&channel=a", 400),
        ("/poll?channel=a%20b", 400),
        ("/poll?channel=a&since=x", 400),
        ("/poll?channel=a&channel=b&channel=c", 429),
    ] {
        let response = send_poll(&mut pair, target).response(&mut pair);
        assert_eq!(
            response.status,
            status,
            "{target}: {:?}",
            response.body_text()
        );
    }
    let mut client = Client::connect(&mut pair);
    let response = client.post(&mut pair, "/poll?channel=a", b"");
    assert_eq!(response.status, 405);
    assert_eq!(parked(&pair), 0);
}

#[test]
fn a_client_that_leaves_is_unparked_from_every_channel() {
    let mut pair = hub();
    let mut client = send_poll(&mut pair, "/poll?channel=a&channel=b&channel=c");
    assert_eq!(parked(&pair), 3);
    client.finish(&mut pair);
    assert_eq!(parked(&pair), 0);
    assert_eq!(pair.handler().inner().hub().channel_count(), 0);
}

#[test]
fn an_answer_of_many_channels_shares_one_byte_budget_and_next_says_where_to_go_on() {
    let mut h = HubConfig::default();
    h.max_batch_bytes = 4096;
    let mut pair = hub_with(h);
    let text = "x".repeat(1000);
    for _ in 0..6 {
        publish(&mut pair, "a", &text);
        publish(&mut pair, "b", &text);
    }
    let mut seen = [0u64; 2];
    let mut rounds = 0;
    while seen != [6, 6] {
        rounds += 1;
        assert!(rounds < 10, "no progress: {seen:?}");
        let target = format!(
            "/poll?channel=a&since={}&channel=b&since={}&timeout=0",
            seen[0], seen[1]
        );
        let response = send_poll(&mut pair, &target).response(&mut pair);
        assert_eq!(response.status, 200);
        assert!(
            response.body.len() < 4096 + 2048,
            "{} bytes",
            response.body.len()
        );
        let answer = body(&response);
        for (i, entry) in answer["channels"].as_array().unwrap().iter().enumerate() {
            let ids: Vec<u64> = entry["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_u64().unwrap())
                .collect();
            let expected: Vec<u64> = (seen[i] + 1..=seen[i] + ids.len() as u64).collect();
            assert_eq!(ids, expected, "in order, none skipped");
            seen[i] = entry["next"].as_u64().unwrap();
        }
    }
    assert!(rounds >= 3, "the budget held: {rounds} rounds");
}
