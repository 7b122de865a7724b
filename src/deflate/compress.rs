//! DEFLATE compression (RFC 1951): not yet written.
