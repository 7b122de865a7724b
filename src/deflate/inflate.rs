//! DEFLATE decompression (RFC 1951): not yet written.
