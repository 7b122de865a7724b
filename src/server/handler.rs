//! [`Handler`]: the application's side of the event loop.

use super::context::Context;
use super::ids::{ConnId, RequestId};
use super::outbound::DisconnectReason;
use crate::error::SendError;
use crate::http::{Request, Response, StatusCode};
use crate::message::{Message, MessagePart};
use crate::ws::close::CloseCode;
use crate::ws::connection::CloseEvent;
use crate::ws::handshake::UpgradeRequest;

/// The application's answer to a WebSocket upgrade request.
#[derive(Debug, Clone)]
pub enum Upgrade {
    /// Open the WebSocket, optionally choosing one of the subprotocols the client offered
    /// (RFC 6455 §4.2.2 item 5.4: the server picks at most one, from the client's list).
    Accept {
        /// The chosen subprotocol. Must be one the client offered; a protocol the client
        /// did not offer is not sent (the client would have to fail the connection).
        protocol: Option<String>,
    },
    /// Refuse with this HTTP response (the connection then closes).
    Reject(Response),
}

impl Upgrade {
    /// Accept without a subprotocol.
    pub fn accept() -> Self {
        Upgrade::Accept { protocol: None }
    }
}

/// Callbacks from the event loop. Every method has a default, so an application
/// implements only what it needs. All run on the loop's thread; a callback that blocks
/// stalls every connection.
///
/// A [`ConnId`] names a connection for its whole life and never another one; a
/// [`RequestId`] names one request on it.
pub trait Handler {
    /// A valid WebSocket upgrade request arrived (the RFC 6455 §4.2.1 checks passed).
    /// Default: accept, without a subprotocol.
    fn on_upgrade(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        request: &UpgradeRequest<'_>,
    ) -> Upgrade {
        let _ = (ctx, conn, request);
        Upgrade::accept()
    }

    /// A plain HTTP request (no upgrade) arrived, with its body. Answer it with
    /// [`Context::respond`] — now, or later from another callback or thread (a long-poll:
    /// see [`Context::park`]) — or stream the answer ([`Context::start_stream`]).
    /// Requests on one connection are answered strictly in order: the next is not read
    /// until this one is answered. `request` names this exchange only; once it is
    /// answered, answers naming it fail with `Gone`. Default: `404`.
    fn on_request(&mut self, ctx: &mut Context<'_>, request: RequestId, head: Request) {
        let _ = head;
        let _ = ctx.respond(
            request,
            Response::error(StatusCode::NOT_FOUND, "no such resource"),
        );
    }

    /// A request parked with [`Context::park`] reached its deadline unanswered. Answer it
    /// now (or park it again). Default: `204 No Content`.
    fn on_park_timeout(&mut self, ctx: &mut Context<'_>, request: RequestId) {
        let _ = ctx.respond(request, Response::new(StatusCode::NO_CONTENT));
    }

    /// The client of a request that was not yet answered (a parked long-poll, or a
    /// streamed answer) closed its connection, or the connection ended for another
    /// reason. Forget the request: answers to it fail with `Gone`. Default: nothing.
    fn on_request_abandoned(&mut self, ctx: &mut Context<'_>, request: RequestId) {
        let _ = (ctx, request);
    }

    /// The WebSocket on `conn` is open (the `101` response is queued).
    fn on_open(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        let _ = (ctx, conn);
    }

    /// A complete message arrived. It borrows the connection's read buffer when it can; call
    /// [`Message::into_owned`] to keep it.
    fn on_message(&mut self, ctx: &mut Context<'_>, conn: ConnId, message: Message<'_>) {
        let _ = (ctx, conn, message);
    }

    /// A piece of a large message, when
    /// [`Config::stream_messages_over`](crate::Config::stream_messages_over) is set: the
    /// pieces of one message arrive in order, from `first` to `last`, with nothing else
    /// of this connection's messages in between (see [`MessagePart`]). To pass a message
    /// on as it arrives, send each piece with [`Context::send_part`].
    ///
    /// Default: the message cannot be taken, so the connection is closed with 1009
    /// (message too big, RFC 6455 §7.4.1) at its first piece — loudly, rather than
    /// dropping the data while the peer believes it was delivered. Set
    /// `stream_messages_over` only with a handler that implements this.
    fn on_message_part(&mut self, ctx: &mut Context<'_>, conn: ConnId, part: MessagePart<'_>) {
        if part.first {
            let _ = ctx.close(
                conn,
                CloseCode::MESSAGE_TOO_BIG,
                "message too large for this server",
            );
        }
    }

    /// The WebSocket on `conn` is over (called exactly once for every `on_open`). Sends to
    /// `conn` fail from now on.
    fn on_close(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: &CloseEvent<'_>) {
        let _ = (ctx, conn, event);
    }

    /// A connection that refused a send with [`SendError::Full`] has worked its backlog
    /// down to half the high-water mark: sending may resume. A WebSocket, a streamed
    /// answer or an outbound connection alike. Default: nothing.
    fn on_drained(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        let _ = (ctx, conn);
    }

    /// The outbound connection `conn` ([`Context::connect`]) is established. Bytes queued
    /// with [`Context::send_bytes`] while it was connecting are on their way. Default:
    /// nothing.
    fn on_connected(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        let _ = (ctx, conn);
    }

    /// Bytes arrived on the outbound connection `conn`: `bytes` is everything received
    /// and not yet consumed, lent from the connection's read buffer (no copy). Parse it in
    /// place and return how many bytes, from the front, are done with; the rest stays
    /// buffered, and the next call offers it again with what arrives after it. While the
    /// return is more than zero and bytes are left, the call is repeated at once, so a
    /// handler may take one reply per call. Returning 0 waits for more bytes; the buffer
    /// grows to hold an unfinished reply up to
    /// [`Config::max_outbound_input`](crate::Config::max_outbound_input), where the
    /// connection is closed ([`DisconnectReason::InputLimit`]). A return past
    /// `bytes.len()` counts as `bytes.len()`.
    ///
    /// Not called while the connection's unsent output is at its write-buffer high-water
    /// mark (the peer is not reading ours; it is not read either until it has). Default:
    /// consume and discard everything.
    fn on_bytes(&mut self, ctx: &mut Context<'_>, conn: ConnId, bytes: &[u8]) -> usize {
        let _ = (ctx, conn);
        bytes.len()
    }

    /// The outbound connection `conn` is over, for `reason`: its connect failed or timed
    /// out, the peer closed it or it broke, the handler closed it
    /// ([`Context::close_outbound`]; then in the same turn, after the call), or the
    /// server shut down. Called exactly once for every id [`Context::connect`] returned;
    /// sends to `conn` fail with `Gone` or `NotOpen` from now on. Default: nothing.
    fn on_disconnected(&mut self, ctx: &mut Context<'_>, conn: ConnId, reason: DisconnectReason) {
        let _ = (ctx, conn, reason);
    }

    /// The instant asked for with [`Context::wake_at`] has come. Default: nothing.
    fn on_wake(&mut self, ctx: &mut Context<'_>) {
        let _ = ctx;
    }

    /// Another thread called [`Handle::notify`](crate::Handle::notify) with `token`: a way
    /// to run handler code on the loop for work that arrives from elsewhere (e.g. data the
    /// application queued for the handler itself). Default: nothing.
    fn on_notify(&mut self, ctx: &mut Context<'_>, token: u64) {
        let _ = (ctx, token);
    }

    /// A message sent through a [`Handle`](crate::Handle) could not be delivered when the
    /// loop processed it (the connection was gone, closing, or over its write-buffer
    /// high-water mark). The message is handed back. Default: drop it.
    fn on_undelivered(
        &mut self,
        ctx: &mut Context<'_>,
        conn: ConnId,
        message: Message<'static>,
        error: SendError,
    ) {
        let _ = (ctx, conn, message, error);
    }
}
