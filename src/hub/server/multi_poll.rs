//! Parked long-polls, of one channel or several, and `/poll`'s answers.
//!
//! `GET /poll?channel=a&since=5&epoch=E&channel=b&since=9&timeout=30` waits on every
//! channel it names and answers as soon as any has news:
//!
//! ```text
//! {"channels":[{"channel":"a","epoch":"E","messages":[...],"next":7},
//!              {"channel":"b","epoch":"E","messages":[],"next":9}]}
//! ```
//!
//! Every channel it asked for is listed, in its order, each with the members of a
//! one-channel answer (`reset`, `missed` when they apply). A page with eight rooms holds
//! one connection, not eight — browsers allow six per host, and the seventh would be its
//! own publish.
//!
//! Unlike a one-channel poll, it is never answered `204`: with no news by its timeout (or
//! at once, with `timeout=0` or `HEAD`) it gets the same list with no messages. Each
//! channel's `epoch` and `next` are then where the client stands, so a channel asked for
//! without `since` ("from now on") has a cursor from its first answer, and a message
//! published between two polls cannot slip past it.
//!
//! A parked multi-channel poll is parked in the hub on each of its channels, under one
//! request id. The publish that wakes it finds it among its [`Fanout::polls`]; the other
//! channels let go of it, and its answer is read afresh from every channel's history
//! (so a channel that had news in the same turn is in it too).

use std::sync::Arc;
use std::time::Duration;

use super::mirrored::{Admission, Deferred};
use super::{HubServer, json_response, no_content, respond_hub_error};
use crate::http::{Body, Request, StatusCode};
use crate::hub::json::{self, BatchMeta};
use crate::hub::query::ChannelCursor;
use crate::hub::{Cursor, Fanout, PollOutcome};
use crate::server::{Context, RequestId};

/// Where a parked long-poll waits.
#[derive(Debug)]
pub(super) enum Parked {
    /// `GET /channels/{name}`: one channel.
    One(String),
    /// `GET /poll`: several, each with the cursor it waits after (made explicit when it
    /// parked: the channel's epoch, and its last id for a group without `since`).
    Many(Box<[ChannelCursor]>),
}

impl HubServer {
    /// Answers the parked polls a publish completed: one shared body for all the
    /// one-channel polls, and its own answer for each poll of several channels.
    pub(super) fn answer_polls(&mut self, ctx: &mut Context<'_>, fanout: &Fanout<RequestId>) {
        let Some(body) = &fanout.poll_body else {
            return;
        };
        let mut single = Vec::with_capacity(fanout.polls.len());
        for request in &fanout.polls {
            match self.polls.remove(request) {
                Some(Parked::Many(groups)) => self.answer_multi_poll(ctx, *request, &groups),
                Some(Parked::One(_)) | None => single.push(*request),
            }
        }
        // The body was built once by the hub; the whole response is encoded once here
        // and copied to every parked request.
        let response = json_response(StatusCode::OK, Body::Shared(body.clone()));
        self.delivery.longpoll += ctx.respond_all(&single, &response) as u64;
    }

    /// `GET /poll`: answered at once if any channel has news (or needs a reset), or with
    /// `timeout=0` or `HEAD`; else parked on every channel.
    pub(super) fn on_multi_poll(&mut self, ctx: &mut Context<'_>, id: RequestId, request: Request) {
        let Some(params) = self.multi_channel_request(ctx, id, &request) else {
            return;
        };
        let names = params.channels.iter().map(|g| g.name.as_str());
        match self.admit(ctx, names) {
            Admission::Go => {}
            Admission::Wait(on) => return self.defer(on, Deferred::Request(id, request)),
            Admission::Refuse(e) => return respond_hub_error(ctx, id, e),
        }
        let new_channels = params
            .channels
            .iter()
            .filter(|g| self.hub.get(&g.name).is_none())
            .count();
        let wait = request.method() == "GET" && params.timeout > Duration::ZERO;
        if wait && self.hub.channel_count() + new_channels > self.config().max_channels {
            // Parking creates the channels it waits on: all or none.
            return respond_hub_error(ctx, id, crate::hub::HubError::TooManyChannels);
        }
        let counted = request.method() == "GET";
        if self.answer_multi_poll_now(ctx, id, &params.channels, counted, !wait) {
            return;
        }
        let mut groups = params.channels.into_boxed_slice();
        for group in groups.iter_mut() {
            let parked = self
                .hub
                .poll(&group.name, group.cursor, 1, Some(id), ctx.now());
            debug_assert_eq!(
                parked,
                Ok(PollOutcome::Parked),
                "nothing to answer was found"
            );
            // Made explicit, so the answer later reads from exactly where it waits.
            if let Some(channel) = self.hub.get(&group.name) {
                group.cursor = Cursor {
                    since: Some(group.cursor.since.unwrap_or(channel.last_id())),
                    epoch: Some(channel.epoch()),
                };
            }
        }
        let until = ctx.now() + params.timeout;
        if ctx.park(id, until).is_ok() {
            self.polls.insert(id, Parked::Many(groups));
        } else {
            for group in groups.iter() {
                self.hub.unpark(&group.name, &id, ctx.now());
            }
        }
    }

    /// A parked poll's timeout: a one-channel poll is answered `204`, one of several
    /// channels with where each stands.
    pub(super) fn poll_timed_out(&mut self, ctx: &mut Context<'_>, id: RequestId) {
        match self.polls.remove(&id) {
            Some(Parked::One(name)) if self.hub.unpark(&name, &id, ctx.now()) => {
                let _ = ctx.respond(id, no_content());
            }
            Some(Parked::Many(groups)) if self.unpark_all(ctx, id, &groups) => {
                self.answer_multi_poll_now(ctx, id, &groups, true, true);
            }
            _ => {}
        }
    }

    /// Takes a parked poll back from every channel it waits on. `true` if it was still
    /// parked (it is then the caller's to answer).
    pub(super) fn unpark(&mut self, ctx: &mut Context<'_>, id: RequestId) -> bool {
        match self.polls.remove(&id) {
            Some(Parked::One(name)) => self.hub.unpark(&name, &id, ctx.now()),
            Some(Parked::Many(groups)) => self.unpark_all(ctx, id, &groups),
            None => false,
        }
    }

    /// Takes `id` back from each of its channels; `true` if it was parked on any.
    pub(super) fn unpark_all(
        &mut self,
        ctx: &mut Context<'_>,
        id: RequestId,
        groups: &[ChannelCursor],
    ) -> bool {
        let mut was_parked = false;
        for group in groups {
            was_parked |= self.hub.unpark(&group.name, &id, ctx.now());
        }
        was_parked
    }

    /// A parked multi-channel poll that a publish woke: let go of its other channels, and
    /// answer it.
    fn answer_multi_poll(
        &mut self,
        ctx: &mut Context<'_>,
        id: RequestId,
        groups: &[ChannelCursor],
    ) {
        self.unpark_all(ctx, id, groups);
        // Woken, so some channel has a message; answered in any case, so that no
        // request is left hanging.
        self.answer_multi_poll_now(ctx, id, groups, true, true);
    }

    /// Answers `id` with every channel's state if any has news, or if `always`; `false`
    /// (nothing sent) otherwise. The messages of all channels share one budget of
    /// [`max_batch_bytes`](crate::hub::HubConfig::max_batch_bytes): once it is spent, the
    /// rest are listed with no messages and their cursor as `next`, and the client's next
    /// poll gets them.
    pub(super) fn answer_multi_poll_now(
        &mut self,
        ctx: &mut Context<'_>,
        id: RequestId,
        groups: &[ChannelCursor],
        count: bool,
        always: bool,
    ) -> bool {
        let config = self.config();
        let (default_limit, max_limit) = (config.poll_limit, config.max_poll_limit);
        let mut budget = config.max_batch_bytes;
        let mut pieces: Vec<Arc<[u8]>> = Vec::with_capacity(4 * groups.len() + 2);
        pieces.push(Arc::from(&b"{\"channels\":["[..]));
        let (mut news, mut delivered) = (false, 0u64);
        for (i, group) in groups.iter().enumerate() {
            if i > 0 {
                pieces.push(Arc::clone(&self.comma));
            }
            let limit = group.limit.unwrap_or(default_limit).min(max_limit);
            let outcome = if budget > 0 {
                self.hub
                    .poll_within(&group.name, group.cursor, limit, budget, None, ctx.now())
            } else {
                Ok(PollOutcome::Empty)
            };
            let mut head = String::with_capacity(32 + group.name.len());
            head.push_str("{\"channel\":");
            json::write_str(&mut head, &group.name);
            head.push(',');
            match outcome {
                Ok(PollOutcome::Ready(answer)) => {
                    news = true;
                    delivered += answer.frames.len() as u64;
                    let bytes: usize = answer.frames.iter().map(|f| f.len()).sum();
                    budget = budget.saturating_sub(bytes.max(1));
                    let mut one = answer.pieces(&self.comma).into_iter();
                    // The one-channel answer's members follow the channel's name.
                    if let Some(prefix) = one.next() {
                        head.push_str(std::str::from_utf8(&prefix[1..]).unwrap_or(""));
                    }
                    pieces.push(Arc::from(head.into_bytes()));
                    pieces.extend(one);
                }
                _ => {
                    head.push_str(&self.idle_members(&group.name, group.cursor));
                    pieces.push(Arc::from(head.into_bytes()));
                }
            }
        }
        if !news && !always {
            return false;
        }
        pieces.push(Arc::from(&b"]}"[..]));
        let sent = ctx.respond(id, json_response(StatusCode::OK, Body::Pieces(pieces)));
        if sent.is_ok() && count {
            self.delivery.longpoll += delivered;
        }
        true
    }

    /// A channel without news in a multi-channel answer: `"epoch":"E","messages":[],
    /// "next":N}` — its epoch (none for a channel that does not exist yet) and where the
    /// client stands, to send again.
    fn idle_members(&self, name: &str, cursor: Cursor) -> String {
        match self.hub.get(name) {
            Some(channel) => {
                let meta = BatchMeta {
                    epoch: channel.epoch(),
                    reset: false,
                    next: cursor.since.unwrap_or(channel.last_id()),
                    missed: 0,
                };
                let mut members = json::batch_prefix(meta);
                members.remove(0);
                members.push_str(&json::batch_suffix(meta));
                members
            }
            None => format!("\"messages\":[],\"next\":{}}}", cursor.since.unwrap_or(0)),
        }
    }
}
