//! The server's side of the Redis engine ([`crate::hub::engine::redis`]): readers wait
//! for a channel's mirror, and what the engine heard from Redis is carried out.
//!
//! A reader of a channel this node does not mirror yet — a poll, a subscription over any
//! transport — waits while the engine subscribes to the channel and reads its stream from
//! Redis ([`HubServer::admit`]); it is then handled exactly as it would have been at
//! once, from the loaded mirror. The wait is the same as a publish's for its script: a
//! round trip to Redis. If the load fails (Redis went away meanwhile), every waiting
//! reader is refused as Redis being down is: `503`, close `1013`, an `error` frame.

use super::followers::{Follower, write_named_event};
use super::multi_poll::Parked;
use super::{HubServer, json_response, no_content};
use crate::http::{Body, Request, StatusCode};
use crate::hub::engine::Engine;
use crate::hub::engine::redis::{Effect, Gate};
use crate::hub::mux::{self, Ref};
use crate::hub::{Cursor, HubError, PollOutcome, Rewound, Subscription, sse};
use crate::server::{ConnId, Context, RequestId};

/// A reader waiting for a channel's mirror, to be handled again once it is loaded.
#[derive(Debug)]
pub(super) enum Deferred {
    /// A request (`GET`/`HEAD` of a channel, `/poll`, `/events`), handled from the start.
    Request(RequestId, Request),
    /// The subscription of a WebSocket on `/channels/{name}` (a follower already: what
    /// it publishes meanwhile is handled).
    Socket {
        conn: ConnId,
        name: String,
        cursor: Cursor,
    },
    /// A `pushwire.v1` `subscribe` command.
    Subscribe {
        conn: ConnId,
        channel: String,
        cursor: Cursor,
        reference: Option<Ref<'static>>,
    },
}

/// Whether a reader of some channels may go on ([`HubServer::admit`]).
#[derive(Debug)]
pub(super) enum Admission {
    /// Every channel can be read now.
    Go,
    /// This channel's mirror is loading (and any other missing one with it).
    Wait(String),
    /// The reader is refused, for this reason.
    Refuse(HubError),
}

impl HubServer {
    /// May a reader of `names` go on? Always, but with the Redis engine: a channel not
    /// mirrored yet begins to load, and the reader waits ([`HubServer::defer`]).
    pub(super) fn admit<'n>(
        &mut self,
        ctx: &mut Context<'_>,
        names: impl IntoIterator<Item = &'n str>,
    ) -> Admission {
        let Engine::Redis(redis) = &mut self.engine else {
            return Admission::Go;
        };
        let mut admission = Admission::Go;
        for name in names {
            match redis.gate(ctx, &mut self.hub, name) {
                Gate::Open => {}
                Gate::Refused(e) => return Admission::Refuse(e),
                // Every missing channel starts loading now, so that they load together.
                Gate::Wait => {
                    if matches!(admission, Admission::Go) {
                        admission = Admission::Wait(name.to_string());
                    }
                }
            }
        }
        if matches!(admission, Admission::Wait(_)) {
            self.arm_wake(ctx); // the deadline of the read's reply
        }
        admission
    }

    /// Keeps `reader` until `name`'s mirror is loaded (or fails to load).
    pub(super) fn defer(&mut self, name: String, reader: Deferred) {
        self.waiting.entry(name).or_default().push(reader);
    }

    /// A `pushwire.v1` client unsubscribed from `channel`: a subscribe of it still waiting
    /// is dropped, so that the two keep the order they were sent in.
    pub(super) fn forget_deferred_subscribe(&mut self, conn: ConnId, channel: &str) {
        if let Some(readers) = self.waiting.get_mut(channel) {
            readers.retain(|r| {
                !matches!(r, Deferred::Subscribe { conn: c, channel: n, .. } if *c == conn && n == channel)
            });
        }
    }

    /// Carries out what the Redis engine heard, in order.
    /// Also arms the wake-up for the engine's next deadline (a reconnect, a reply awaited).
    pub(super) fn run_effects(&mut self, ctx: &mut Context<'_>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Answer {
                    origin,
                    name,
                    result,
                } => match result {
                    Ok(published) => {
                        self.answer_published(ctx, origin, &name, published.id, published.epoch)
                    }
                    Err(e) => {
                        self.delivery.refused += 1;
                        self.refuse_published(ctx, origin, &name, e)
                    }
                },
                Effect::Deliver { name, fanout } => self.deliver(ctx, &name, &fanout),
                Effect::Rewound { name, rewound } => self.rewind(ctx, &name, rewound),
                Effect::Ready { name } => self.admit_waiting(ctx, &name, false),
                Effect::Failed { name } => self.admit_waiting(ctx, &name, true),
            }
        }
        self.arm_wake(ctx);
    }

    /// Handles again every reader that waited for `name`: from the loaded mirror, or
    /// refused (`failed`).
    fn admit_waiting(&mut self, ctx: &mut Context<'_>, name: &str, failed: bool) {
        let Some(readers) = self.waiting.remove(name) else {
            return;
        };
        if failed && let Engine::Redis(redis) = &mut self.engine {
            redis.refusing(name);
        }
        for reader in readers {
            match reader {
                Deferred::Request(id, request) => {
                    crate::server::Handler::on_request(self, ctx, id, request)
                }
                Deferred::Socket { conn, name, cursor } => {
                    self.subscribe_socket(ctx, conn, &name, cursor)
                }
                Deferred::Subscribe {
                    conn,
                    channel,
                    cursor,
                    reference,
                } => self.subscribe_command(ctx, conn, &channel, cursor, reference.as_ref()),
            }
        }
        if failed && let Engine::Redis(redis) = &mut self.engine {
            redis.refusal_done();
        }
    }

    /// A mirror was replaced (its stream has a new epoch, or lost ids this node never
    /// saw): every parked poll is answered from where it stood — a reset, or `missed` —
    /// and every subscriber is subscribed again from the last id it was given, and sent
    /// where it now stands (the reset) and the replay, in its own shape.
    fn rewind(&mut self, ctx: &mut Context<'_>, name: &str, rewound: Rewound<RequestId, ConnId>) {
        let before = Cursor {
            since: Some(rewound.last),
            epoch: Some(rewound.epoch),
        };
        let limit = self.config().poll_limit;
        for request in rewound.polls {
            match self.polls.remove(&request) {
                Some(Parked::One(_)) => match self.hub.poll(name, before, limit, None, ctx.now()) {
                    Ok(PollOutcome::Ready(answer)) => {
                        let body = Body::Pieces(answer.pieces(&self.comma));
                        let _ = ctx.respond(request, json_response(StatusCode::OK, body));
                        self.delivery.longpoll += answer.frames.len() as u64;
                    }
                    _ => {
                        let _ = ctx.respond(request, no_content());
                    }
                },
                Some(Parked::Many(groups)) => {
                    self.unpark_all(ctx, request, &groups);
                    self.answer_multi_poll_now(ctx, request, &groups, true, true);
                }
                None => {}
            }
        }
        for (conn, had) in rewound.subscribers {
            let cursor = Cursor {
                since: Some(had),
                epoch: Some(rewound.epoch),
            };
            let Ok(subscription) = self.hub.subscribe(name, conn, cursor, ctx.now()) else {
                continue;
            };
            self.send_subscribed(ctx, conn, name, &subscription);
            self.send_replay(ctx, conn, name, subscription.replay);
        }
    }

    /// Tells a follower where it stands in `name`'s stream (`subscribed`, or `reset`), in
    /// its shape: what it was sent when it subscribed.
    fn send_subscribed(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        name: &str,
        subscription: &Subscription,
    ) {
        let frame = || {
            mux::subscribed(
                name,
                subscription.epoch,
                subscription.next,
                subscription.reset,
            )
        };
        match self.followers.get(&conn) {
            Some(Follower::Socket { .. }) => {
                let _ = ctx.send_text(conn, &subscription.first_frame());
            }
            Some(Follower::Stream { request, .. }) => {
                let kind = if subscription.reset {
                    "reset"
                } else {
                    "subscribed"
                };
                let at = sse::EventId::new(subscription.epoch, subscription.next).text();
                let mut event = Vec::with_capacity(96);
                write_named_event(
                    &mut event,
                    kind,
                    Some(at.as_str()),
                    &subscription.first_frame(),
                );
                let _ = ctx.stream(*request, &event);
            }
            Some(Follower::MultiStream { request, .. }) => {
                let _ = ctx.stream(*request, &sse::data_event(&frame()));
            }
            Some(Follower::Multiplexed(_)) => {
                let frame = frame();
                self.answer(ctx, conn, frame);
            }
            None => {}
        }
    }
}
