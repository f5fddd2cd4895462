//! The opening handshake, both roles (RFC 6455 §4).
