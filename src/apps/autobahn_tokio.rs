//! `fullduplex autobahn-client --runtime tokio`: the Autobahn client testee played through the
//! tokio adapter's [`connect`], on a current-thread runtime: the same cases, URLs and reports
//! as the mio runtime's client (see [`autobahn`](super::autobahn)).

use std::time::Duration;

use fullduplex::client::ClientOptions;
use fullduplex::tokio::{connect, ClientStream, Error, Message, WebSocketStream};

use super::autobahn::AutobahnArgs;

/// Runs the cases the arguments name, then asks the fuzzing server to write its reports.
pub fn run(args: &AutobahnArgs, options: &ClientOptions, timeout: Duration) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    runtime.block_on(run_all(args, options, timeout))
}

async fn run_all(
    args: &AutobahnArgs,
    options: &ClientOptions,
    timeout: Duration,
) -> Result<(), String> {
    let base = args.url.trim_end_matches('/');
    let count = case_count(base, options).await?;
    let cases = super::autobahn::chosen_cases(&args.cases, count)?;
    let mut tally = super::autobahn::Tally::new(cases.len(), args.verbose);
    for &case in &cases {
        let url = format!("{base}/runCase?case={case}&agent={}", args.agent);
        tally.record(case, run_case(&url, options, timeout).await);
    }
    tally.finish();
    let url = format!("{base}/updateReports?agent={}", args.agent);
    let mut ws = connect(&url, options)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let _ = tokio::time::timeout(timeout, drain(&mut ws)).await;
    Ok(())
}

async fn case_count(base: &str, options: &ClientOptions) -> Result<usize, String> {
    let url = format!("{base}/getCaseCount");
    let mut ws = connect(&url, options).await.map_err(|e| {
        format!(
            "cannot reach the fuzzing server at {url}: {e} (is `wstest -m fuzzingserver` running?)"
        )
    })?;
    let first = tokio::time::timeout(Duration::from_secs(10), ws.recv()).await;
    let text = match first {
        Ok(Ok(Some(Message::Text(text)))) => text,
        Ok(Ok(other)) => return Err(format!("{url} answered {other:?}, not a case count")),
        Ok(Err(e)) => return Err(format!("{url}: {e} before the case count arrived")),
        Err(_) => return Err(format!("{url}: no case count within 10 s")),
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), drain(&mut ws)).await;
    text.trim()
        .parse()
        .map_err(|_| format!("{url} answered {text:?}, not a case count"))
}

/// Plays one case: echoes every message (and fragment) back with its opcode until the
/// connection ends; the first error is the case's (a protocol error is what many cases test).
async fn run_case(url: &str, options: &ClientOptions, timeout: Duration) -> Result<(), Error> {
    let mut ws = connect(url, options)
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
    match tokio::time::timeout(timeout, echo(&mut ws)).await {
        Ok(result) => result,
        Err(_) => Err(Error::Io(std::io::ErrorKind::TimedOut.into())),
    }
}

/// Echoes until the stream ends, remembering the first error.
async fn echo(ws: &mut WebSocketStream<ClientStream>) -> Result<(), Error> {
    let mut first_error = None;
    loop {
        match ws.recv().await {
            Ok(Some(message)) if message.is_data() => match ws.feed(message).await {
                Ok(()) | Err(Error::Closed) => {}
                Err(e) => return Err(e),
            },
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Reads to the end: the close handshake and the server closing TCP first (RFC 6455 §7.1.1).
async fn drain(ws: &mut WebSocketStream<ClientStream>) {
    while let Ok(Some(_)) | Err(_) = ws.recv().await {}
}
