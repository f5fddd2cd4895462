//! permessage-deflate negotiation (RFC 7692 §5, §7, §7.1) in both roles, as tables: each row
//! quotes the sentence (and section) it checks.
//!
//! Offers and responses are written as `Sec-WebSocket-Extensions` values and parsed with the
//! RFC 6455 §9.1 parser, as the handshake does. Agreed parameters are written the same way,
//! as the parameter list that names them (an absent window is 15).

use fullduplex::config::DeflateConfig;
use fullduplex::protocol::deflate::{client_accept, client_offer, negotiate_server, DeflateParams};
use fullduplex::protocol::handshake::{parse_extensions, Extension, ExtensionParam};
use fullduplex::protocol::{Connection, Event, Message};
use fullduplex::{Config, HandshakeError};

/// A configuration that asks for nothing of its own: no `*_no_context_takeover`, 15-bit
/// windows. Rows change the field they are about.
fn open() -> DeflateConfig {
    DeflateConfig {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        ..DeflateConfig::default()
    }
}

fn parse(value: &str) -> Vec<Extension> {
    parse_extensions(value.as_bytes()).unwrap_or_else(|e| panic!("{value:?}: {e}"))
}

/// What a permessage-deflate parameter list agrees on, read the simple way: a flag is set
/// when named, a window is its value or 15 when absent (RFC 7692 §7.1.2.2: "Absence of this
/// extension parameter in an extension negotiation response indicates that the server can
/// receive messages compressed using an LZ77 sliding window of up to 32,768 bytes.").
fn meaning(params: &str) -> DeflateParams {
    let mut agreed = DeflateParams::default();
    let list = match params {
        "" => parse("permessage-deflate"),
        params => parse(&format!("permessage-deflate; {params}")),
    };
    for param in &list[0].params {
        let bits = || param.value.as_deref().unwrap().parse().unwrap();
        match param.name.as_str() {
            "server_no_context_takeover" => agreed.server_no_context_takeover = true,
            "client_no_context_takeover" => agreed.client_no_context_takeover = true,
            "server_max_window_bits" => agreed.server_max_window_bits = bits(),
            "client_max_window_bits" => agreed.client_max_window_bits = bits(),
            other => panic!("not a permessage-deflate parameter: {other}"),
        }
    }
    agreed
}

/// One server-side case: the client's offers, our configuration, and the response we must
/// send (`None`: every offer declined, no extension).
struct ServerCase {
    rfc: &'static str,
    config: DeflateConfig,
    offers: String,
    response: Option<String>,
}

fn server(
    rfc: &'static str,
    config: DeflateConfig,
    offers: &str,
    response: Option<&str>,
) -> ServerCase {
    ServerCase {
        rfc,
        config,
        offers: offers.to_owned(),
        response: response.map(str::to_owned),
    }
}

const ACCEPT: &str = "RFC 7692 §5: \"To accept the use of an offered PMCE, a server MUST include the extension name of the PMCE in the \"Sec-WebSocket-Extensions\" header field of its opening handshake response.\"";
const SNCT_ACCEPT: &str = "RFC 7692 §7.1.1.1: \"A server accepts an extension negotiation offer that includes the \"server_no_context_takeover\" extension parameter by including the \"server_no_context_takeover\" extension parameter in the corresponding extension negotiation response to send back to the client.\"";
const SNCT_MAY: &str = "RFC 7692 §7.1.1.1: \"A server MAY include the \"server_no_context_takeover\" extension parameter in an extension negotiation response even if the extension negotiation offer being accepted by the response didn't include the \"server_no_context_takeover\" extension parameter.\"";
const CNCT_USE: &str = "RFC 7692 §7.1.1.2: \"the server may either ignore the parameter or use the parameter to avoid taking over the LZ77 sliding window unnecessarily by including the \"client_no_context_takeover\" extension parameter in the corresponding extension negotiation response to the offer.\"";
const CNCT_MAY: &str = "RFC 7692 §7.1.1.2: \"A server MAY include the \"client_no_context_takeover\" extension parameter in an extension negotiation response.\"";
const SMWB_ACCEPT: &str = "RFC 7692 §7.1.2.1: \"A server accepts an extension negotiation offer with this parameter by including the \"server_max_window_bits\" extension parameter in the extension negotiation response to send back to the client with the same or smaller value as the offer.\"";
const SMWB_MAY: &str = "RFC 7692 §7.1.2.1: \"A server MAY include the \"server_max_window_bits\" extension parameter in an extension negotiation response even if the extension negotiation offer being accepted by the response didn't include the \"server_max_window_bits\" extension parameter.\"";
const SMWB_VALUE: &str = "RFC 7692 §7.1.2.1: \"This parameter has a decimal integer value without leading zeroes between 8 to 15, inclusive\"";
const CMWB_MAY: &str = "RFC 7692 §7.1.2.2: \"If a received extension negotiation offer has the \"client_max_window_bits\" extension parameter, the server MAY include the \"client_max_window_bits\" extension parameter in the corresponding extension negotiation response to the offer.\"";
const CMWB_LIMITS: &str = "RFC 7692 §7.1.2.2: \"By including this extension parameter in an extension negotiation response, a server limits the LZ77 sliding window size that the client uses to compress messages.\"";
const CMWB_HINT: &str = "RFC 7692 §7.1.2.2: \"the server may either ignore this value or use this value to avoid allocating an unnecessarily big LZ77 sliding window by including the \"client_max_window_bits\" extension parameter in the corresponding extension negotiation response to the offer with a value equal to or smaller than the received value.\"";
const CMWB_MUST_NOT: &str = "RFC 7692 §7.1.2.2: \"If a received extension negotiation offer doesn't have the \"client_max_window_bits\" extension parameter, the corresponding extension negotiation response to the offer MUST NOT include the \"client_max_window_bits\" extension parameter.\"";
const CMWB_VALUE: &str = "RFC 7692 §7.1.2.2: \"This parameter has no value or a decimal integer value without leading zeroes between 8 to 15 inclusive\"";
const NO_VALUE: &str = "RFC 7692 §7.1.1.1, §7.1.1.2: \"This extension parameter has no value.\"";
const ORDER: &str = "RFC 7692 §5: \"The order of elements is important as it specifies the client's preference.  An element preceding another element has higher preference.\"";
const PICK: &str = "RFC 7692 §7.1.3: \"The server can accept \"permessage-deflate\" by picking any supported one from the listed offers.\"";
const UNKNOWN: &str = "RFC 7692 §7: \"A server MUST decline an extension negotiation offer for this extension if [...] The negotiation offer contains an extension parameter not defined for use in an offer.\"";
const INVALID: &str = "RFC 7692 §7: \"A server MUST decline an extension negotiation offer for this extension if [...] The negotiation offer contains an extension parameter with an invalid value.\"";
const DUPLICATE: &str = "RFC 7692 §7: \"A server MUST decline an extension negotiation offer for this extension if [...] The negotiation offer contains multiple extension parameters with the same name.\"";
const QUOTED: &str = "RFC 6455 §9.1: \"When using the quoted-string syntax variant, the value after quoted-string unescaping MUST conform to the 'token' ABNF.\"";

fn server_cases() -> Vec<ServerCase> {
    let pmd = "permessage-deflate";
    #[rustfmt::skip]
    let mut cases = vec![
        server(ACCEPT, open(), pmd, Some(pmd)),
        server(ACCEPT, open(), "PerMessage-Deflate", Some(pmd)),
        // Each parameter alone.
        server(SNCT_ACCEPT, open(), "permessage-deflate; server_no_context_takeover", Some("permessage-deflate; server_no_context_takeover")),
        server(CNCT_USE, open(), "permessage-deflate; client_no_context_takeover", Some("permessage-deflate; client_no_context_takeover")),
        server(CMWB_MAY, open(), "permessage-deflate; client_max_window_bits", Some(pmd)),
        server(CMWB_HINT, open(), "permessage-deflate; client_max_window_bits=10", Some("permessage-deflate; client_max_window_bits=10")),
        server(CMWB_HINT, DeflateConfig { client_max_window_bits: 9, ..open() }, "permessage-deflate; client_max_window_bits=12", Some("permessage-deflate; client_max_window_bits=9")),
        server(CMWB_LIMITS, DeflateConfig { client_max_window_bits: 10, ..open() }, "permessage-deflate; client_max_window_bits", Some("permessage-deflate; client_max_window_bits=10")),
        server(CMWB_MUST_NOT, DeflateConfig { client_max_window_bits: 10, ..open() }, pmd, Some(pmd)),
        server(SMWB_ACCEPT, DeflateConfig { server_max_window_bits: 10, ..open() }, "permessage-deflate; server_max_window_bits=12", Some("permessage-deflate; server_max_window_bits=10")),
        server(SMWB_MAY, DeflateConfig { server_max_window_bits: 11, ..open() }, pmd, Some("permessage-deflate; server_max_window_bits=11")),
        // Our configuration forcing no context takeover.
        server(SNCT_MAY, DeflateConfig { server_no_context_takeover: true, ..open() }, pmd, Some("permessage-deflate; server_no_context_takeover")),
        server(CNCT_MAY, DeflateConfig { client_no_context_takeover: true, ..open() }, pmd, Some("permessage-deflate; client_no_context_takeover")),
        server(SNCT_MAY, DeflateConfig::default(), "permessage-deflate; client_max_window_bits", Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")),
        // Every parameter at once (Autobahn 13.5's offer, and one with all four).
        server(PICK, DeflateConfig::default(), "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9", Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9")),
        server(PICK, open(), "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11", Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11")),
        // Quoted values (RFC 6455 §9.1 grammar; the parser unquotes them).
        server(QUOTED, open(), "permessage-deflate; server_max_window_bits=\"10\"", Some("permessage-deflate; server_max_window_bits=10")),
        server(QUOTED, open(), "permessage-deflate; client_max_window_bits=\"9\"", Some("permessage-deflate; client_max_window_bits=9")),
        server(QUOTED, open(), "permessage-deflate; server_max_window_bits=\"08\"", None),
        // Window 8: agreed as offered (our compressor honours it with stored blocks, see
        // `an_agreed_8_bit_server_window_sends_only_stored_blocks`), never answered with 9.
        server(SMWB_ACCEPT, open(), "permessage-deflate; server_max_window_bits=8", Some("permessage-deflate; server_max_window_bits=8")),
        server(CMWB_HINT, open(), "permessage-deflate; client_max_window_bits=8", Some("permessage-deflate; client_max_window_bits=8")),
        server(SMWB_MAY, DeflateConfig { server_max_window_bits: 8, ..open() }, pmd, Some("permessage-deflate; server_max_window_bits=8")),
        // Unknown parameters.
        server(UNKNOWN, open(), "permessage-deflate; foo", None),
        server(UNKNOWN, open(), "permessage-deflate; mux=1", None),
        server(UNKNOWN, open(), "permessage-deflate; server_max_window_bit=10", None),
        // Flags with a value.
        server(NO_VALUE, open(), "permessage-deflate; server_no_context_takeover=1", None),
        server(NO_VALUE, open(), "permessage-deflate; client_no_context_takeover=\"x\"", None),
        // Duplicates, each parameter.
        server(DUPLICATE, open(), "permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
        server(DUPLICATE, open(), "permessage-deflate; client_no_context_takeover; client_no_context_takeover", None),
        server(DUPLICATE, open(), "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", None),
        server(DUPLICATE, open(), "permessage-deflate; client_max_window_bits; client_max_window_bits=10", None),
        server(DUPLICATE, open(), "permessage-deflate; client_max_window_bits=9; client_max_window_bits=9", None),
        server(DUPLICATE, open(), "permessage-deflate; server_no_context_takeover; SERVER_NO_CONTEXT_TAKEOVER", None),
        // A window that needs a value.
        server(SMWB_VALUE, open(), "permessage-deflate; server_max_window_bits", None),
        // Several offers: the first we can honour wins.
        server(ORDER, open(), "permessage-deflate; client_max_window_bits=10, permessage-deflate", Some("permessage-deflate; client_max_window_bits=10")),
        server(ORDER, open(), "permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=10", Some("permessage-deflate; server_max_window_bits=10")),
        server(ORDER, open(), "permessage-deflate; foo, permessage-deflate; server_no_context_takeover; server_no_context_takeover, permessage-deflate; client_max_window_bits=16, permessage-deflate; server_max_window_bits, permessage-deflate; client_no_context_takeover", Some("permessage-deflate; client_no_context_takeover")),
        server(ORDER, open(), "permessage-deflate; foo, permessage-deflate; bar", None),
        server(PICK, open(), "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=12", Some("permessage-deflate; client_max_window_bits=12")),
        server(PICK, open(), "x-webkit-deflate-frame; no_context_takeover", None),
    ];
    let windows = [
        ("server_max_window_bits", SMWB_ACCEPT),
        ("client_max_window_bits", CMWB_HINT),
    ];
    for bits in 8..=15 {
        for (param, rfc) in windows {
            let offer = format!("permessage-deflate; {param}={bits}");
            cases.push(server(rfc, open(), &offer, Some(&offer)));
        }
    }
    #[rustfmt::skip]
    let bad = ["7", "16", "08", "0", "00", "015", "-9", "+9", "9.0", "1a", "255", "256", "99999999999999999999"];
    let windows = [
        ("server_max_window_bits", SMWB_VALUE),
        ("client_max_window_bits", CMWB_VALUE),
    ];
    for value in bad {
        for (param, rfc) in windows {
            let offer = format!("permessage-deflate; {param}={value}");
            cases.push(server(rfc, open(), &offer, None));
            let quoted = format!("permessage-deflate; {param}=\"{value}\"");
            cases.push(server(INVALID, open(), &quoted, None));
        }
    }
    cases
}

#[test]
fn the_server_answers_the_first_offer_it_can_honour_and_names_what_was_agreed() {
    for case in server_cases() {
        let result = negotiate_server(&parse(&case.offers), &case.config);
        let response = result.as_ref().map(|(_, response)| response.as_str());
        assert_eq!(
            response,
            case.response.as_deref(),
            "offer {:?}, {:?}\n  checks {}",
            case.offers,
            case.config,
            case.rfc
        );
        if let Some((params, response)) = result {
            // The response names exactly what was agreed.
            let named = response.strip_prefix("permessage-deflate").unwrap();
            assert_eq!(
                params,
                meaning(named.trim_start_matches("; ")),
                "{response}"
            );
        }
    }
}

#[test]
fn values_the_header_parser_cannot_produce_are_declined_too() {
    // `server_max_window_bits=` and `=""` fail the header grammar (RFC 6455 §9.1) before
    // negotiation; built by hand, an empty value is still an invalid one (RFC 7692 §7).
    for value in [
        "permessage-deflate; server_max_window_bits=",
        "permessage-deflate; client_max_window_bits=\"\"",
    ] {
        assert!(parse_extensions(value.as_bytes()).is_err(), "{value}");
    }
    for name in ["server_max_window_bits", "client_max_window_bits"] {
        for value in ["", " 9", "9 ", "\u{0669}"] {
            let offer = Extension {
                name: "permessage-deflate".into(),
                params: vec![ExtensionParam {
                    name: name.into(),
                    value: Some(value.into()),
                }],
            };
            assert_eq!(
                negotiate_server(&[offer], &open()),
                None,
                "{name}={value:?}"
            );
        }
    }
}

/// What the client makes of a response.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The handshake goes on with these parameters (in [`meaning`]'s notation).
    Agreed(&'static str),
    /// The server did not accept permessage-deflate: no compression.
    Declined,
    /// _Fail the WebSocket Connection_.
    Failed,
}

struct ClientCase {
    rfc: &'static str,
    config: DeflateConfig,
    response: &'static str,
    outcome: Outcome,
}

fn client(
    rfc: &'static str,
    config: DeflateConfig,
    response: &'static str,
    outcome: Outcome,
) -> ClientCase {
    ClientCase {
        rfc,
        config,
        response,
        outcome,
    }
}

const FAIL_UNKNOWN: &str = "RFC 7692 §7: \"A client MUST _Fail the WebSocket Connection_ if [...] The negotiation response contains an extension parameter not defined for use in a response.\"";
const FAIL_INVALID: &str = "RFC 7692 §7: \"A client MUST _Fail the WebSocket Connection_ if [...] The negotiation response contains an extension parameter with an invalid value.\"";
const FAIL_DUPLICATE: &str = "RFC 7692 §7: \"A client MUST _Fail the WebSocket Connection_ if [...] The negotiation response contains multiple extension parameters with the same name.\"";
const FAIL_UNSUPPORTED: &str = "RFC 7692 §7: \"A client MUST _Fail the WebSocket Connection_ if [...] The client does not support the configuration that the response represents.\"";
const ABSENT_IS_32K: &str = "RFC 7692 §7.1.2.2: \"Absence of this extension parameter in an extension negotiation response indicates that the server can receive messages compressed using an LZ77 sliding window of up to 32,768 bytes.\"";
const CNCT_PREVENTS: &str = "RFC 7692 §7.1.1.2: \"By including the \"client_no_context_takeover\" extension parameter in an extension negotiation response, a server prevents the peer client from using context takeover.\"";
const CNCT_HINT: &str = "RFC 7692 §7.1.1.2: \"a client informs the peer server of a hint that even if the server doesn't include the \"client_no_context_takeover\" extension parameter in the corresponding extension negotiation response to the offer, the client is not going to use context takeover.\"";
const CMWB_OFFER_HINT: &str = "RFC 7692 §7.1.2.2: \"even if the server doesn't include the \"client_max_window_bits\" extension parameter in the corresponding extension negotiation response with a value greater than the one in the extension negotiation offer or if the server doesn't include the extension parameter at all, the client is not going to use an LZ77 sliding window size greater than the size specified by the value in the extension negotiation offer to compress messages.\"";

fn client_cases() -> Vec<ClientCase> {
    use Outcome::*;
    let server_10 = || DeflateConfig {
        server_max_window_bits: 10,
        ..open()
    };
    let client_10 = || DeflateConfig {
        client_max_window_bits: 10,
        ..open()
    };
    #[rustfmt::skip]
    let cases = vec![
        // Accepted responses, and what they agree on.
        client(ABSENT_IS_32K, open(), "permessage-deflate", Agreed("")),
        client(ABSENT_IS_32K, open(), "PerMessage-Deflate", Agreed("")),
        client(SNCT_MAY, open(), "permessage-deflate; server_no_context_takeover", Agreed("server_no_context_takeover")),
        client(SNCT_ACCEPT, DeflateConfig { server_no_context_takeover: true, ..open() }, "permessage-deflate; server_no_context_takeover", Agreed("server_no_context_takeover")),
        client(CNCT_PREVENTS, open(), "permessage-deflate; client_no_context_takeover", Agreed("client_no_context_takeover")),
        client(CNCT_HINT, DeflateConfig { client_no_context_takeover: true, ..open() }, "permessage-deflate", Agreed("client_no_context_takeover")),
        client(SMWB_MAY, open(), "permessage-deflate; server_max_window_bits=10", Agreed("server_max_window_bits=10")),
        client(SMWB_MAY, open(), "permessage-deflate; server_max_window_bits=8", Agreed("server_max_window_bits=8")),
        client(SMWB_ACCEPT, server_10(), "permessage-deflate; server_max_window_bits=10", Agreed("server_max_window_bits=10")),
        client(SMWB_ACCEPT, server_10(), "permessage-deflate; server_max_window_bits=9", Agreed("server_max_window_bits=9")),
        client(QUOTED, server_10(), "permessage-deflate; server_max_window_bits=\"9\"", Agreed("server_max_window_bits=9")),
        client(CMWB_LIMITS, open(), "permessage-deflate; client_max_window_bits=9", Agreed("client_max_window_bits=9")),
        client(CMWB_LIMITS, open(), "permessage-deflate; client_max_window_bits=8", Agreed("client_max_window_bits=8")),
        client(CMWB_LIMITS, client_10(), "permessage-deflate; client_max_window_bits=9", Agreed("client_max_window_bits=9")),
        client(CMWB_OFFER_HINT, client_10(), "permessage-deflate", Agreed("client_max_window_bits=10")),
        client(CMWB_OFFER_HINT, client_10(), "permessage-deflate; client_max_window_bits=12", Agreed("client_max_window_bits=10")),
        client(CMWB_OFFER_HINT, client_10(), "permessage-deflate; client_max_window_bits=15", Agreed("client_max_window_bits=10")),
        client(PICK, DeflateConfig::default(), "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=11", Agreed("server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=11")),
        // No permessage-deflate in the response: declined, the connection goes on.
        client(ACCEPT, open(), "x-other", Declined),
        // Responses the client must fail.
        client(SMWB_ACCEPT, server_10(), "permessage-deflate; server_max_window_bits=11", Failed),
        client(SMWB_ACCEPT, server_10(), "permessage-deflate; server_max_window_bits=15", Failed),
        client(SMWB_ACCEPT, server_10(), "permessage-deflate", Failed),
        client(SNCT_ACCEPT, DeflateConfig { server_no_context_takeover: true, ..open() }, "permessage-deflate", Failed),
        client(FAIL_UNKNOWN, open(), "permessage-deflate; foo", Failed),
        client(FAIL_UNKNOWN, open(), "permessage-deflate; client_max_window_bit=9", Failed),
        client(FAIL_INVALID, open(), "permessage-deflate; client_max_window_bits", Failed),
        client(FAIL_INVALID, open(), "permessage-deflate; server_max_window_bits", Failed),
        client(FAIL_INVALID, open(), "permessage-deflate; client_max_window_bits=7", Failed),
        client(FAIL_INVALID, open(), "permessage-deflate; client_max_window_bits=16", Failed),
        client(FAIL_INVALID, open(), "permessage-deflate; client_max_window_bits=09", Failed),
        client(FAIL_INVALID, open(), "permessage-deflate; server_max_window_bits=7", Failed),
        client(FAIL_INVALID, open(), "permessage-deflate; server_max_window_bits=16", Failed),
        client(FAIL_INVALID, open(), "permessage-deflate; server_max_window_bits=\"010\"", Failed),
        client(FAIL_INVALID, open(), "permessage-deflate; server_no_context_takeover=1", Failed),
        client(FAIL_INVALID, open(), "permessage-deflate; client_no_context_takeover=true", Failed),
        client(FAIL_DUPLICATE, open(), "permessage-deflate; server_no_context_takeover; server_no_context_takeover", Failed),
        client(FAIL_DUPLICATE, open(), "permessage-deflate; client_no_context_takeover; client_no_context_takeover", Failed),
        client(FAIL_DUPLICATE, open(), "permessage-deflate; server_max_window_bits=9; server_max_window_bits=9", Failed),
        client(FAIL_DUPLICATE, open(), "permessage-deflate; client_max_window_bits=9; client_max_window_bits=10", Failed),
        client(FAIL_UNSUPPORTED, open(), "permessage-deflate, permessage-deflate", Failed),
        client(FAIL_UNSUPPORTED, open(), "permessage-deflate; client_max_window_bits=9, permessage-deflate", Failed),
    ];
    cases
}

#[test]
fn the_client_fails_any_response_it_did_not_allow_and_agrees_on_the_rest() {
    for case in client_cases() {
        let outcome = match client_accept(&parse(case.response), &case.config) {
            Ok(Some(params)) => Ok(Some(params)),
            Ok(None) => Ok(None),
            Err(HandshakeError::UnofferedExtension) => Err(()),
            Err(other) => panic!("{}: unexpected error {other:?}", case.response),
        };
        let expected = match case.outcome {
            Outcome::Agreed(params) => Ok(Some(meaning(params))),
            Outcome::Declined => Ok(None),
            Outcome::Failed => Err(()),
        };
        assert_eq!(
            outcome,
            expected,
            "response {:?} to {:?}\n  checks {}",
            case.response,
            client_offer(&case.config),
            case.rfc
        );
    }
}

#[test]
fn the_client_offer_follows_its_configuration() {
    // RFC 7692 §7.1.2.2: "By including this parameter in an extension negotiation offer, a
    // client informs the peer server that the client supports the "client_max_window_bits"
    // extension parameter in an extension negotiation response": we always do, so a response
    // naming it is never one we did not allow.
    let table = [
        (open(), "permessage-deflate; client_max_window_bits"),
        (
            DeflateConfig::default(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits",
        ),
        (
            DeflateConfig { server_max_window_bits: 10, client_max_window_bits: 12, ..open() },
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
        ),
        (
            DeflateConfig { server_max_window_bits: 8, client_max_window_bits: 8, ..open() },
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
        ),
    ];
    for (config, offer) in table {
        assert_eq!(client_offer(&config), offer);
    }
}

/// Every configuration the table of a field below can make.
fn configs() -> Vec<DeflateConfig> {
    let mut all = Vec::new();
    for server_no_context_takeover in [false, true] {
        for client_no_context_takeover in [false, true] {
            for (server_max_window_bits, client_max_window_bits) in
                [(15, 15), (8, 15), (15, 9), (10, 12)]
            {
                all.push(DeflateConfig {
                    server_no_context_takeover,
                    client_no_context_takeover,
                    server_max_window_bits,
                    client_max_window_bits,
                    ..DeflateConfig::default()
                });
            }
        }
    }
    all
}

#[test]
fn our_client_and_our_server_always_agree_on_the_same_parameters() {
    for ours in configs() {
        for theirs in configs() {
            let offer = client_offer(&ours);
            let (agreed, response) = negotiate_server(&parse(&offer), &theirs)
                .unwrap_or_else(|| panic!("{offer:?} declined by {theirs:?}"));
            let accepted = client_accept(&parse(&response), &ours);
            assert_eq!(accepted, Ok(Some(agreed)), "{offer:?} -> {response:?}");
            // Each end gets at least what it asked for.
            assert!(
                agreed.server_max_window_bits
                    <= ours
                        .server_max_window_bits
                        .min(theirs.server_max_window_bits)
            );
            assert!(agreed.client_max_window_bits <= ours.client_max_window_bits);
            assert!(
                agreed.server_no_context_takeover
                    >= ours.server_no_context_takeover | theirs.server_no_context_takeover
            );
            assert!(
                agreed.client_no_context_takeover
                    >= ours.client_no_context_takeover | theirs.client_no_context_takeover
            );
        }
    }
}

/// Whether a raw DEFLATE stream (a message's payload, its `00 00 ff ff` tail removed) is made
/// of stored blocks only: such blocks refer to no earlier data, so they fit any window.
fn only_stored_blocks(data: &[u8]) -> bool {
    let mut at = 0;
    while at < data.len() {
        // Each block starts on a byte boundary after a stored block or a sync flush.
        if (data[at] >> 1) & 0b11 != 0b00 {
            return false;
        }
        if at + 5 > data.len() {
            return data.len() - at == 1;
        }
        let len = u16::from_le_bytes([data[at + 1], data[at + 2]]) as usize;
        at += 5 + len;
    }
    true
}

#[test]
fn an_agreed_8_bit_server_window_sends_only_stored_blocks() {
    // zlib (and zlib-rs) cannot deflate raw data with an 8-bit window, so with 8 agreed our
    // compressor stores (zlib window 9, level 0): RFC 7692 §7.1.2.1's limit holds, and
    // the server never answers 9 to an offer of 8.
    let config = Config {
        deflate: Some(DeflateConfig {
            min_message_size: 0,
            ..open()
        }),
        ..Config::default()
    };
    let offers = parse("permessage-deflate; server_max_window_bits=8");
    let (agreed, _) = negotiate_server(&offers, config.deflate.as_ref().unwrap()).unwrap();
    assert_eq!(agreed.server_max_window_bits, 8);
    let mut server = Connection::server(config.clone()).with_deflate(agreed);
    let text = "a repeated phrase that any real compressor would refer back to. ".repeat(30);
    server.send_text(&text).unwrap();
    let wire: Vec<u8> = server.output_chunks().flatten().copied().collect();
    // One unmasked frame, 16-bit length form: FIN|RSV1|Text, 126, length.
    assert_eq!(wire[0], 0xc1);
    assert_eq!(wire[1], 126);
    assert!(only_stored_blocks(&wire[4..]));
    let mut client = Connection::client(config.clone(), || [1, 2, 3, 4]).with_deflate(agreed);
    client.receive(&wire);
    match client.poll_event() {
        Ok(Some(Event::Message(Message::Text(received)))) => assert_eq!(received, text),
        other => panic!("{other:?}"),
    }
}
