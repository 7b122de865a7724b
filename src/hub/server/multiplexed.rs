//! `/ws`: many channels over one WebSocket, by the commands of `pushwire.v1`
//! ([`mux`](crate::hub::mux) reads them and writes every frame).
//!
//! A page with six rooms needs one connection instead of six. Every answer names what it
//! answers: `subscribed`/`unsubscribed` the channel, `ack` and `error` the command's
//! `ref`; every message names its channel. An error never closes the connection — it
//! answers the one command — except for a client that leaves its answers unread
//! ([`MAX_QUEUED_ANSWERS`]).
//!
//! Access is decided per command, with the token the upgrade carried (a browser's
//! `WebSocket` sends it as the subprotocol entry `bearer.<token>` or as `?token=`), so one
//! connection may hold channels of different rights.

use std::borrow::Cow;

use super::followers::{Follower, MAX_QUEUED_ANSWERS};
use super::mirrored::{Admission, Deferred};
use super::{HubServer, Opening};
use crate::http::{Response, StatusCode};
use crate::hub::access::{self, Right};
use crate::hub::engine::Origin;
use crate::hub::mux::{self, Command, CommandLimits, Payload, Ref};
use crate::hub::{Cursor, Data, HubError};
use crate::message::Message;
use crate::server::{ConnId, Context, Upgrade};
use crate::ws::close::CloseCode;
use crate::ws::handshake::UpgradeRequest;

impl HubServer {
    /// An upgrade on `/ws`: it must offer `pushwire.v1` (RFC 6455 §4.2.2: the server
    /// selects one of the client's subprotocols; without ours, the client could not read
    /// what we send), and its bearer token, if any, is kept for its commands.
    pub(super) fn accept_multiplexed(
        &mut self,
        conn: ConnId,
        request: &UpgradeRequest<'_>,
    ) -> Upgrade {
        if !request.offers_protocol(mux::SUBPROTOCOL) {
            let why = "offer the WebSocket subprotocol pushwire.v1 (Sec-WebSocket-Protocol)";
            return Upgrade::Reject(Response::error(StatusCode::BAD_REQUEST, why));
        }
        let token = match access::bearer_token(&request.head(), Some(request)) {
            Ok(token) => token.map(Cow::into_owned),
            Err(denied) => return Upgrade::Reject(denied.response()),
        };
        self.opening.insert(conn, Opening::Multiplexed(token));
        Upgrade::Accept {
            protocol: Some(mux::SUBPROTOCOL.to_string()),
        }
    }

    /// One frame from a `pushwire.v1` client: a command, answered on the connection.
    pub(super) fn on_command(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        message: &Message<'_>,
    ) {
        let Some(text) = message.as_text() else {
            let frame = mux::error(
                None,
                None,
                StatusCode::BAD_REQUEST,
                "commands are JSON text frames",
            );
            return self.answer(ctx, conn, frame);
        };
        let max_command = usize::try_from(ctx.config().max_message_size).unwrap_or(usize::MAX);
        let limits = CommandLimits::new(max_command, self.config().max_message);
        match Command::parse(text.as_bytes(), &limits) {
            Err(e) => self.answer(ctx, conn, e.frame()),
            Ok(Command::Subscribe {
                channel,
                since,
                epoch,
                reference,
            }) => {
                let cursor = Cursor { since, epoch };
                self.subscribe_command(ctx, conn, &channel, cursor, reference.as_ref());
            }
            Ok(Command::Unsubscribe { channel, .. }) => {
                self.forget_deferred_subscribe(conn, &channel);
                self.hub.unsubscribe(&channel, &conn, ctx.now());
                if let Some(Follower::Multiplexed(state)) = self.followers.get_mut(&conn) {
                    state.channels.retain(|c| **c != *channel);
                }
                self.arm_wake(ctx);
                self.answer(ctx, conn, mux::unsubscribed(&channel));
            }
            Ok(Command::Publish {
                channel,
                data,
                reference,
            }) => self.publish_command(ctx, conn, &channel, data, reference),
        }
    }

    pub(super) fn subscribe_command(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        channel: &str,
        cursor: Cursor,
        reference: Option<&Ref<'_>>,
    ) {
        let refuse =
            |status: StatusCode, why: &str| mux::error(reference, Some(channel), status, why);
        let Some(Follower::Multiplexed(state)) = self.followers.get(&conn) else {
            return;
        };
        let token = state.token.as_deref();
        if let Err(denied) = self.authorize_token(ctx, token, None, channel, Right::Subscribe) {
            let frame = refuse(denied.status(), denied.reason());
            return self.answer(ctx, conn, frame);
        }
        let again = state.channels.iter().any(|c| &**c == channel);
        if !again && state.channels.len() >= self.config().max_subscriptions {
            let e = HubError::TooManySubscriptions;
            let frame = refuse(e.status(), &e.to_string());
            return self.answer(ctx, conn, frame);
        }
        match self.admit(ctx, [channel]) {
            Admission::Go => {}
            Admission::Wait(on) => {
                let deferred = Deferred::Subscribe {
                    conn,
                    channel: channel.to_string(),
                    cursor,
                    reference: reference.map(|r| r.clone().into_owned()),
                };
                return self.defer(on, deferred);
            }
            Admission::Refuse(e) => {
                let frame = refuse(e.status(), &e.to_string());
                return self.answer(ctx, conn, frame);
            }
        }
        // Subscribing again starts the channel over from the new cursor.
        let subscription = match self.hub.subscribe(channel, conn, cursor, ctx.now()) {
            Ok(subscription) => subscription,
            Err(e) => {
                let frame = refuse(e.status(), &e.to_string());
                return self.answer(ctx, conn, frame);
            }
        };
        if !again && let Some(Follower::Multiplexed(state)) = self.followers.get_mut(&conn) {
            state.channels.push(channel.into());
        }
        let first = mux::subscribed(
            channel,
            subscription.epoch,
            subscription.next,
            subscription.reset,
        );
        self.answer(ctx, conn, first);
        self.send_replay(ctx, conn, channel, subscription.replay);
    }

    fn publish_command(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        channel: &str,
        data: Payload<'_>,
        reference: Option<Ref<'_>>,
    ) {
        let Some(Follower::Multiplexed(state)) = self.followers.get(&conn) else {
            return;
        };
        let token = state.token.as_deref();
        if let Err(denied) = self.authorize_token(ctx, token, None, channel, Right::Publish) {
            let frame = mux::error(
                reference.as_ref(),
                Some(channel),
                denied.status(),
                denied.reason(),
            );
            return self.answer(ctx, conn, frame);
        }
        // A string is text; any other value a JSON payload, delivered as that value.
        let data = Data::from(data);
        // The `ref` waits here until the publish is committed (its `ack`) or refused.
        let key = reference.as_ref().map(|r| {
            let key = self.next_reference;
            self.next_reference += 1;
            self.references.insert(key, r.clone().into_owned());
            key
        });
        let origin = Origin::Command(conn, key);
        if let Err(e) = self.submit(ctx, channel, data, origin) {
            self.refuse_published(ctx, origin, channel, e);
        }
    }

    /// The `ref` kept under `key` by a publish command, taken back for its answer.
    pub(super) fn take_reference(&mut self, key: Option<u64>) -> Option<Ref<'static>> {
        key.and_then(|key| self.references.remove(&key))
    }

    /// Sends an answer to a `pushwire.v1` connection, in order after any still queued.
    /// A full write buffer queues it (sent by [`flush_answers`](Self::flush_answers)
    /// when the buffer drains), up to [`MAX_QUEUED_ANSWERS`]; past that the client is not
    /// reading, and is closed.
    pub(super) fn answer(&mut self, ctx: &mut Context<'_>, conn: ConnId, frame: String) {
        let Some(Follower::Multiplexed(state)) = self.followers.get_mut(&conn) else {
            return;
        };
        if state.answers.is_empty() {
            match ctx.send_text(conn, &frame) {
                Ok(()) => return,
                Err(crate::error::SendError::Full) => {}
                Err(_) => return,
            }
        }
        if state.answers.len() >= MAX_QUEUED_ANSWERS {
            let why = "too many unread answers: read what the server sends";
            let _ = ctx.close(conn, CloseCode::POLICY_VIOLATION, why);
            return;
        }
        state.answers.push_back(frame);
    }

    /// Sends the queued answers of a connection whose buffer drained, oldest first.
    /// `true` when none is left waiting (deliveries may resume); always `true` for a
    /// connection that is not `pushwire.v1`.
    pub(super) fn flush_answers(&mut self, ctx: &mut Context<'_>, conn: ConnId) -> bool {
        let Some(Follower::Multiplexed(state)) = self.followers.get_mut(&conn) else {
            return true;
        };
        while let Some(frame) = state.answers.front() {
            if ctx.send_text(conn, frame).is_err() {
                return false;
            }
            state.answers.pop_front();
        }
        true
    }
}
