//! Close codes and the Close frame's payload: status code, then a UTF-8 reason.
//!
//! Implements [RFC 6455 §5.5.1](https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1) (the
//! Close frame body) and [RFC 6455 §7.4](https://www.rfc-editor.org/rfc/rfc6455#section-7.4)
//! (status codes), with the codes IANA registered later (1012–1014).

use crate::error::ProtocolError;

/// The largest close reason that fits a control frame: 125 bytes less the 2-byte code.
pub const MAX_REASON_LEN: usize = 123;

/// A close status code (RFC 6455 §7.4).
///
/// The named variants are the codes the RFC and the IANA registry define; `Registered` holds
/// 3000–3999 (for libraries and frameworks), `Private` holds 4000–4999 (for applications).
/// `NoStatus`, `Abnormal` and `TlsHandshake` exist only to *report* a closure: RFC 6455 §7.4.1
/// says they "MUST NOT be set as a status code in a Close control frame by an endpoint".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCode {
    /// 1000: the purpose for which the connection was established has been fulfilled.
    Normal,
    /// 1001: an endpoint is going away (server shutting down, browser leaving the page).
    GoingAway,
    /// 1002: the peer broke the protocol.
    ProtocolError,
    /// 1003: the endpoint received a type of data it cannot accept.
    Unsupported,
    /// 1005: reported when a Close frame carried no status code; never sent.
    NoStatus,
    /// 1006: reported when the connection closed without a Close frame; never sent.
    Abnormal,
    /// 1007: data inconsistent with the message type (e.g. invalid UTF-8 in a text message).
    InvalidPayload,
    /// 1008: a message violated the endpoint's policy.
    PolicyViolation,
    /// 1009: a message too big to process.
    TooBig,
    /// 1010: (client only) the server did not negotiate an extension the client requires.
    MandatoryExtension,
    /// 1011: the server met an unexpected condition.
    InternalError,
    /// 1012: the service is restarting (IANA registry).
    ServiceRestart,
    /// 1013: try again later (IANA registry).
    TryAgainLater,
    /// 1014: a gateway or proxy received an invalid response (IANA registry).
    BadGateway,
    /// 1015: reported when the TLS handshake failed; never sent.
    TlsHandshake,
    /// 3000–3999: registered with IANA by libraries, frameworks and applications.
    Registered(u16),
    /// 4000–4999: reserved for private use by applications.
    Private(u16),
}

/// A number that is not a close code defined by RFC 6455 §7.4 or the IANA registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownCloseCode(pub u16);

impl TryFrom<u16> for CloseCode {
    type Error = UnknownCloseCode;

    fn try_from(code: u16) -> Result<Self, Self::Error> {
        Ok(match code {
            1000 => Self::Normal,
            1001 => Self::GoingAway,
            1002 => Self::ProtocolError,
            1003 => Self::Unsupported,
            1005 => Self::NoStatus,
            1006 => Self::Abnormal,
            1007 => Self::InvalidPayload,
            1008 => Self::PolicyViolation,
            1009 => Self::TooBig,
            1010 => Self::MandatoryExtension,
            1011 => Self::InternalError,
            1012 => Self::ServiceRestart,
            1013 => Self::TryAgainLater,
            1014 => Self::BadGateway,
            1015 => Self::TlsHandshake,
            3000..=3999 => Self::Registered(code),
            4000..=4999 => Self::Private(code),
            _ => return Err(UnknownCloseCode(code)),
        })
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        match code {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::ProtocolError => 1002,
            CloseCode::Unsupported => 1003,
            CloseCode::NoStatus => 1005,
            CloseCode::Abnormal => 1006,
            CloseCode::InvalidPayload => 1007,
            CloseCode::PolicyViolation => 1008,
            CloseCode::TooBig => 1009,
            CloseCode::MandatoryExtension => 1010,
            CloseCode::InternalError => 1011,
            CloseCode::ServiceRestart => 1012,
            CloseCode::TryAgainLater => 1013,
            CloseCode::BadGateway => 1014,
            CloseCode::TlsHandshake => 1015,
            CloseCode::Registered(code) | CloseCode::Private(code) => code,
        }
    }
}

impl CloseCode {
    /// Whether this code may appear in a Close frame on the wire.
    ///
    /// RFC 6455 §7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close
    /// control frame by an endpoint". `Registered` and `Private` built by hand outside their
    /// ranges are not sendable either.
    pub fn is_sendable(self) -> bool {
        match self {
            Self::NoStatus | Self::Abnormal | Self::TlsHandshake => false,
            Self::Registered(code) => (3000..=3999).contains(&code),
            Self::Private(code) => (4000..=4999).contains(&code),
            _ => true,
        }
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", u16::from(*self))
    }
}

// `ProtocolError` is declared in the leaf `error.rs`, which imports nothing of the protocol; the
// code each error closes with is the protocol's knowledge, so it is implemented here.
impl ProtocolError {
    /// The close code sent when failing the connection for this error
    /// ([RFC 6455 §7.4.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1)).
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::FrameTooLarge | Self::MessageTooLarge | Self::TooManyFragments => {
                CloseCode::TooBig
            }
            Self::InvalidUtf8 | Self::InvalidCloseReason | Self::InvalidCompressedData => {
                CloseCode::InvalidPayload
            }
            _ => CloseCode::ProtocolError,
        }
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::ReservedBits(bits) => write!(f, "reserved bits {bits:#04x} set"),
            Self::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            other => f.write_str(other.reason()),
        }?;
        write!(f, " (close code {})", self.close_code())
    }
}

impl std::error::Error for ProtocolError {}

/// Parses a Close frame's payload into its status code and reason (RFC 6455 §5.5.1).
///
/// An empty payload is a close with no status: `NoStatus` and an empty reason.
pub fn parse_close_payload(payload: &[u8]) -> Result<(CloseCode, &str), ProtocolError> {
    match payload.len() {
        0 => return Ok((CloseCode::NoStatus, "")),
        // §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
        // unsigned integer (in network byte order) representing a status code".
        1 => return Err(ProtocolError::InvalidClosePayload),
        _ => {}
    }
    let raw = u16::from_be_bytes([payload[0], payload[1]]);
    let code = CloseCode::try_from(raw).map_err(|_| ProtocolError::InvalidCloseCode(raw))?;
    // §7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control frame".
    if !code.is_sendable() {
        return Err(ProtocolError::InvalidCloseCode(raw));
    }
    // §5.5.1: the body after the code "is not guaranteed to be human readable" but
    // §8.1 applies: "the data MUST be UTF-8" once we interpret it as text.
    let reason =
        std::str::from_utf8(&payload[2..]).map_err(|_| ProtocolError::InvalidCloseReason)?;
    Ok((code, reason))
}

/// Writes a Close payload (code then reason) into `out`, returning its length.
///
/// `NoStatus` writes an empty payload. The caller has checked the code is sendable and the
/// reason fits in [`MAX_REASON_LEN`].
pub(crate) fn encode_close_payload(code: CloseCode, reason: &str, out: &mut [u8; 125]) -> usize {
    if code == CloseCode::NoStatus {
        return 0;
    }
    out[..2].copy_from_slice(&u16::from(code).to_be_bytes());
    out[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
    2 + reason.len()
}

/// How a connection ended, as a runtime reports it to the application (the server's
/// `Handler::on_close`, the many-connection client's `Ended`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// The peer's close code; `Abnormal` (1006) when the connection ended without a Close frame
    /// (dropped, timed out, reset); the error's code when the peer broke the protocol.
    pub code: CloseCode,
    /// The peer's reason, or what went wrong.
    pub reason: String,
    /// Whether the close handshake completed (RFC 6455 §7.1.4 "cleanly").
    pub clean: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_u16_round_trips_or_is_unknown() {
        for raw in 0..=u16::MAX {
            match CloseCode::try_from(raw) {
                Ok(code) => assert_eq!(u16::from(code), raw),
                Err(UnknownCloseCode(bad)) => assert_eq!(bad, raw),
            }
        }
    }

    #[test]
    fn wire_validity_matches_rfc_7_4() {
        let valid = |raw: u16| parse_close_payload(&raw.to_be_bytes()).is_ok();
        for raw in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
        ] {
            assert!(valid(raw), "{raw} must be accepted");
        }
        for raw in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!valid(raw), "{raw} must be rejected");
        }
        assert!(valid(3000) && valid(3999) && valid(4000) && valid(4999));
    }

    #[test]
    fn payload_shapes() {
        assert_eq!(parse_close_payload(b""), Ok((CloseCode::NoStatus, "")));
        assert_eq!(
            parse_close_payload(&[0x03]),
            Err(ProtocolError::InvalidClosePayload)
        );
        assert_eq!(
            parse_close_payload(b"\x03\xe8bye"),
            Ok((CloseCode::Normal, "bye"))
        );
        assert_eq!(
            parse_close_payload(b"\x03\xe8\xff"),
            Err(ProtocolError::InvalidCloseReason)
        );
    }

    #[test]
    fn encode_then_parse() {
        let mut buf = [0u8; 125];
        let n = encode_close_payload(CloseCode::Private(4321), "done", &mut buf);
        assert_eq!(
            parse_close_payload(&buf[..n]),
            Ok((CloseCode::Private(4321), "done"))
        );
        assert_eq!(encode_close_payload(CloseCode::NoStatus, "", &mut buf), 0);
    }

    #[test]
    fn each_error_fails_with_its_close_code_and_says_so() {
        assert_eq!(
            ProtocolError::MessageTooLarge.close_code(),
            CloseCode::TooBig
        );
        assert_eq!(
            ProtocolError::InvalidUtf8.close_code(),
            CloseCode::InvalidPayload
        );
        assert_eq!(
            ProtocolError::UnmaskedFrame.close_code(),
            CloseCode::ProtocolError
        );
        assert_eq!(
            ProtocolError::ReservedOpcode(0x3).to_string(),
            "reserved opcode 0x3 (close code 1002)"
        );
        assert_eq!(
            ProtocolError::InvalidCompressedData.to_string(),
            "corrupt compressed data (close code 1007)"
        );
    }

    #[test]
    fn hand_built_codes_outside_their_range_are_not_sendable() {
        assert!(!CloseCode::Registered(4000).is_sendable());
        assert!(!CloseCode::Private(1000).is_sendable());
        assert!(!CloseCode::NoStatus.is_sendable());
        assert!(CloseCode::Private(4000).is_sendable());
    }
}
