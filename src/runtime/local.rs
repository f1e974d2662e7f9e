//! One invocation outside Lambda: what a lamina binary does when `AWS_LAMBDA_RUNTIME_API` is
//! not set. The event comes from a file or stdin, the response goes to stdout, and an error goes
//! to stderr as the same JSON document Lambda would show, with exit status 1.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::context::Context;
use crate::error::{Error, write_diagnostic};
use crate::handler::{Handler, Reply, StreamTarget};
use crate::logging;
use crate::runtime::panic;

/// The content type of a streamed HTTP response (`lamina::http::Streaming`).
const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";

/// Lambda's default function timeout, used for the local deadline unless `--timeout` is given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
const USAGE_ERROR: u8 = 2;

/// What the command line asked for.
#[derive(Debug, PartialEq)]
struct Options {
    event: Option<PathBuf>,
    timeout: Duration,
}

pub(crate) fn invoke<H: Handler>(init: impl FnOnce() -> Result<H, Error>) -> ExitCode {
    let logging = logging::install(logging::Output::Stderr);
    let program = std::env::args()
        .next()
        .map(|p| {
            PathBuf::from(p)
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let options = match parse_args(std::env::args_os().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{}", usage(&program));
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprint!("error: {problem}\n\n{}", usage(&program));
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let event = match read_event(options.event.as_deref()) {
        Ok(event) => event,
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitCode::from(USAGE_ERROR);
        }
    };

    panic::install_hook();
    let handler = panic::catch(init);
    // INIT is over: lamina's subscriber becomes the process's, unless `init` installed one.
    drop(logging);
    let mut handler = match handler {
        Ok(handler) => handler,
        Err(err) => return report(&err.into_init_error()),
    };
    let context = Context::local(options.timeout);
    let mut response = Vec::new();
    let mut stdout = StdoutStream::default();
    let mut reply = if handler.streams() {
        Reply::streamed(&mut response, &mut stdout)
    } else {
        Reply::whole(&mut response)
    };
    let result = panic::catch(|| handler.call(&event, &context, &mut reply));
    if stdout.opened {
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => report(&err),
        };
    }
    match result {
        Ok(()) => {
            response.push(b'\n');
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(&response).and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("error: writing the response to stdout failed: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(err) => report(&err),
    }
}

/// A streamed response, printed to stdout as it arrives. An HTTP response's prelude (status and
/// headers) goes to stderr, so stdout carries the body alone.
#[derive(Default)]
struct StdoutStream {
    opened: bool,
    /// The prelude so far, while an HTTP response's body has not begun.
    prelude: Option<Vec<u8>>,
}

impl StreamTarget for StdoutStream {
    fn open(&mut self, content_type: &str) -> io::Result<Option<RawFd>> {
        self.opened = true;
        if content_type == HTTP_INTEGRATION {
            self.prelude = Some(Vec::new());
        }
        Ok(None)
    }

    fn write(&mut self, pieces: &[&[u8]]) -> io::Result<()> {
        pieces.iter().try_for_each(|piece| self.write_piece(piece))
    }
}

impl StdoutStream {
    fn write_piece(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(prelude) = &mut self.prelude {
            prelude.extend_from_slice(bytes);
            let Some(end) = prelude.windows(8).position(|w| w == [0; 8]) else {
                return Ok(());
            };
            eprintln!("{}", String::from_utf8_lossy(&prelude[..end]));
            let rest = prelude.split_off(end + 8);
            self.prelude = None;
            return self.write_body(&rest);
        }
        self.write_body(bytes)
    }

    fn write_body(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(bytes)?;
        stdout.flush()
    }
}

fn report(err: &Error) -> ExitCode {
    let mut document = Vec::new();
    write_diagnostic(err.error_type(), &err.message(), &mut document);
    document.push(b'\n');
    // If stderr is gone there is nowhere left to say so; the exit status still tells.
    let _ = std::io::stderr().write_all(&document);
    ExitCode::FAILURE
}

fn usage(program: &str) -> String {
    format!(
        "\
usage: {program} [--event FILE] [--timeout SECONDS]

Runs this Lambda function once, here, with no AWS account: reads the event
(JSON) from FILE, or from standard input when FILE is absent or `-`, prints
the response JSON on standard output, or the error as Lambda reports it
({{\"errorType\",\"errorMessage\"}}) on standard error with exit status 1.

Under Lambda, where AWS_LAMBDA_RUNTIME_API is set, the same binary serves
invocations from the Runtime API instead.

options:
  -e, --event FILE       the event to invoke with (default: standard input)
  -t, --timeout SECONDS  the deadline the handler sees in its Context (default: 3;
                         not enforced)
  -h, --help             print this help
"
    )
}

/// Parses the arguments; `Ok(None)` means help was asked for.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Option<Options>, String> {
    let mut options = Options {
        event: None,
        timeout: DEFAULT_TIMEOUT,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("the argument {a:?} is not valid UTF-8"))?;
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args
                    .next()
                    .and_then(|v| v.into_string().ok())
                    .ok_or_else(|| format!("`{name}` needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "-e" | "--event" => {
                if options.event.is_some() {
                    return Err("`--event` is given more than once".to_owned());
                }
                options.event = Some(PathBuf::from(value("--event")?));
            }
            "-t" | "--timeout" => {
                let text = value("--timeout")?;
                options.timeout = text
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= 900.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        format!("`--timeout {text}` is not a number of seconds between 0 and 900 (Lambda's maximum)")
                    })?;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(options))
}

fn read_event(path: Option<&std::path::Path>) -> Result<Vec<u8>, String> {
    match path {
        Some(path) if path.as_os_str() != "-" => std::fs::read(path)
            .map_err(|err| format!("cannot read the event file `{}`: {err}", path.display())),
        _ => {
            let mut stdin = std::io::stdin().lock();
            if stdin.is_terminal() {
                eprintln!(
                    "reading the event from standard input; end it with Ctrl-D (or pass --event FILE)"
                );
            }
            let mut event = Vec::new();
            stdin
                .read_to_end(&mut event)
                .map_err(|err| format!("cannot read the event from standard input: {err}"))?;
            Ok(event)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, String> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn event_and_timeout_in_both_spellings() {
        let expected = Options {
            event: Some("e.json".into()),
            timeout: Duration::from_millis(1500),
        };
        assert_eq!(
            parse(&["--event", "e.json", "--timeout", "1.5"]),
            Ok(Some(expected))
        );
        let same = parse(&["-e", "e.json", "--timeout=1.5"]).unwrap().unwrap();
        assert_eq!(same.event, Some("e.json".into()));
        assert_eq!(parse(&[]).unwrap().unwrap().timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn help_and_mistakes() {
        assert_eq!(parse(&["--help"]), Ok(None));
        assert_eq!(
            parse(&["--evnt", "x"]),
            Err("unknown argument `--evnt`".into())
        );
        assert_eq!(parse(&["--event"]), Err("`--event` needs a value".into()));
        assert_eq!(
            parse(&["-e", "a", "-e", "b"]),
            Err("`--event` is given more than once".into())
        );
        assert!(
            parse(&["--timeout", "0"])
                .unwrap_err()
                .contains("between 0 and 900")
        );
        assert!(parse(&["--timeout", "soon"]).is_err());
    }
}
