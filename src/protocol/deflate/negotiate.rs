//! Negotiating permessage-deflate's parameters: the client's offer, the server's choice among
//! offers, and the client's check of the server's response.
//!
//! Implements [RFC 7692 §5](https://www.rfc-editor.org/rfc/rfc7692#section-5) (offers and
//! responses) and [RFC 7692 §7.1](https://www.rfc-editor.org/rfc/rfc7692#section-7.1) (the four
//! parameters).

use std::fmt::Write as _;

use super::DeflateParams;
use crate::config::DeflateConfig;
use crate::error::HandshakeError;
use crate::protocol::handshake::Extension;

/// The extension's registered name (RFC 7692 §7).
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The parameters of one offer or response, parsed and checked.
#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in an offer only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Why an offer or response is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Invalid;

/// RFC 7692 §7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15,
/// inclusive".
fn window_bits(value: &str) -> Result<u8, Invalid> {
    if value.len() > 2 || value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid);
    }
    match value.parse::<u8>() {
        Ok(bits @ 8..=15) => Ok(bits),
        _ => Err(Invalid),
    }
}

impl Parsed {
    /// Parses an extension's parameters. RFC 7692 §7: a server "MUST decline" an offer, and a
    /// client "MUST _Fail the WebSocket Connection_" on a response, with "an extension
    /// parameter not defined for use", "an extension parameter with an invalid value" or
    /// "multiple extension parameters with the same name".
    fn from(extension: &Extension) -> Result<Self, Invalid> {
        let mut parsed = Parsed::default();
        let mut seen = [false; 4];
        for param in &extension.params {
            let value = param.value.as_deref();
            let index = match param.name.to_ascii_lowercase().as_str() {
                "server_no_context_takeover" if value.is_none() => {
                    parsed.server_no_context_takeover = true;
                    0
                }
                "client_no_context_takeover" if value.is_none() => {
                    parsed.client_no_context_takeover = true;
                    1
                }
                "server_max_window_bits" => {
                    parsed.server_max_window_bits = Some(window_bits(value.ok_or(Invalid)?)?);
                    2
                }
                "client_max_window_bits" => {
                    parsed.client_max_window_bits = Some(value.map(window_bits).transpose()?);
                    3
                }
                _ => return Err(Invalid),
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(Invalid);
            }
        }
        Ok(parsed)
    }
}

fn is_deflate(extension: &Extension) -> bool {
    extension.name.eq_ignore_ascii_case(EXTENSION_NAME)
}

/// The server's choice: walks the client's offers in order and accepts the first it can
/// honour (RFC 7692 §5: "It is recommended that a server accepts PMCEs with higher preference
/// if the server supports them."), returning the agreed parameters and the `Sec-WebSocket-Extensions` response value. `None`: no offer was
/// acceptable, and the connection goes on without compression.
pub fn negotiate_server(
    offers: &[Extension],
    config: &DeflateConfig,
) -> Option<(DeflateParams, String)> {
    offers
        .iter()
        .filter(|offer| is_deflate(offer))
        .find_map(|offer| accept_offer(&Parsed::from(offer).ok()?, config))
}

fn accept_offer(offer: &Parsed, config: &DeflateConfig) -> Option<(DeflateParams, String)> {
    let ours = config.server_max_window_bits.clamp(8, 15);
    // §7.1.2.1: the server accepts by answering "the same or smaller value as the offer";
    // when the offer sets none, it may still announce a smaller window of its own.
    let server_max_window_bits = offer
        .server_max_window_bits
        .map_or(ours, |theirs| theirs.min(ours));
    // §7.1.2.2: "If a received extension negotiation offer doesn't have the
    // "client_max_window_bits" extension parameter, the corresponding extension negotiation
    // response to the offer MUST NOT include the "client_max_window_bits" extension parameter."
    let client_max_window_bits = match offer.client_max_window_bits {
        None => 15,
        Some(hint) => hint
            .unwrap_or(15)
            .min(config.client_max_window_bits.clamp(8, 15)),
    };
    let params = DeflateParams {
        // §7.1.1.1: "A server accepts an extension negotiation offer that includes the
        // "server_no_context_takeover" extension parameter by including [it] in the
        // corresponding extension negotiation response"; it "MAY include" it on its own too.
        server_no_context_takeover: offer.server_no_context_takeover
            || config.server_no_context_takeover,
        // §7.1.1.2: "A server MAY include the "client_no_context_takeover" extension parameter
        // in an extension negotiation response"; a client that offered it will not keep
        // context either way, so the response names it then too.
        client_no_context_takeover: offer.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
    };
    let mut response = String::from(EXTENSION_NAME);
    if params.server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if offer.server_max_window_bits.is_some() || server_max_window_bits < 15 {
        let _ = write!(
            response,
            "; server_max_window_bits={server_max_window_bits}"
        );
    }
    if matches!(offer.client_max_window_bits, Some(Some(_)))
        || (offer.client_max_window_bits.is_some() && client_max_window_bits < 15)
    {
        let _ = write!(
            response,
            "; client_max_window_bits={client_max_window_bits}"
        );
    }
    Some((params, response))
}

/// The client's offer, as a `Sec-WebSocket-Extensions` value.
///
/// It always carries `client_max_window_bits` (with our limit as its value when below 15), so
/// the server may lower our window: we can honour any value, 8 included.
pub fn client_offer(config: &DeflateConfig) -> String {
    let mut offer = String::from(EXTENSION_NAME);
    if config.server_no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        offer.push_str("; client_no_context_takeover");
    }
    if config.server_max_window_bits < 15 {
        let _ = write!(
            offer,
            "; server_max_window_bits={}",
            config.server_max_window_bits.clamp(8, 15)
        );
    }
    match config.client_max_window_bits.clamp(8, 15) {
        15 => offer.push_str("; client_max_window_bits"),
        bits => {
            let _ = write!(offer, "; client_max_window_bits={bits}");
        }
    }
    offer
}

/// The client's check of the server's response to [`client_offer`] (RFC 7692 §7: "A client
/// MUST _Fail the WebSocket Connection_ if the peer server accepted an extension negotiation
/// offer for this extension with an extension negotiation response" it does not allow).
/// `Ok(None)`: the server did not accept the extension.
pub fn client_accept(
    response: &[Extension],
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, HandshakeError> {
    let mut accepted = response.iter().filter(|e| is_deflate(e));
    let Some(extension) = accepted.next() else {
        return Ok(None);
    };
    let refuse = HandshakeError::UnofferedExtension;
    // §7.1.3: the server accepts "by picking any supported one from the listed offers": one.
    if accepted.next().is_some() {
        return Err(refuse);
    }
    let parsed = Parsed::from(extension).map_err(|_| refuse.clone())?;
    // §7.1.2.2: a response's client_max_window_bits must carry a value. Our offer always
    // carries the parameter, so any value limits us; with a value in our offer, the client "is
    // not going to use an LZ77 sliding window size greater than the size specified by the
    // value in the extension negotiation offer", whatever larger value the response names.
    let offered_client_bits = config.client_max_window_bits.clamp(8, 15);
    let client_bits = match parsed.client_max_window_bits {
        Some(None) => return Err(refuse),
        Some(Some(bits)) => bits.min(offered_client_bits),
        None => offered_client_bits,
    };
    // §7.1.1.1: "A server accepts an extension negotiation offer that includes the
    // "server_no_context_takeover" extension parameter by including [it] in the [response]".
    if config.server_no_context_takeover && !parsed.server_no_context_takeover {
        return Err(refuse);
    }
    // §7.1.2.1: "A server accepts an extension negotiation offer with this parameter by
    // including the "server_max_window_bits" extension parameter in the extension negotiation
    // response to send back to the client with the same or smaller value as the offer."
    let ours = config.server_max_window_bits.clamp(8, 15);
    let server_bits = match parsed.server_max_window_bits {
        Some(bits) if bits > ours => return Err(refuse),
        Some(bits) => bits,
        None if ours < 15 => return Err(refuse),
        None => 15,
    };
    Ok(Some(DeflateParams {
        server_no_context_takeover: parsed.server_no_context_takeover,
        // §7.1.1.2: a client that offered it keeps no context "even if the server doesn't
        // include" it.
        client_no_context_takeover: parsed.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }))
}
