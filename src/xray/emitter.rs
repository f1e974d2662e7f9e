//! Sends documents to the X-Ray daemon over UDP, in its protocol: each datagram is the line
//! `{"format": "json", "version": 1}` and one JSON document.
//!
//! The socket is created once, on the first send, and is non-blocking: a daemon that is absent,
//! slow or unreachable costs a failed `send_to` (logged at debug level), never a wait, and never
//! fails an invocation.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::OnceLock;

/// Where the daemon listens, as Lambda sets it: `host:port`, or `tcp:host:port udp:host:port`.
pub(crate) const DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";
/// The daemon's documented default.
const DEFAULT_ADDRESS: &str = "127.0.0.1:2000";

/// What starts every datagram.
pub(crate) const PROTOCOL_HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";

/// The largest datagram sent, header line included. The daemon reads 64 KiB; a little is kept
/// back so an IPv4 datagram (at most 65,507 bytes of payload) always fits too.
pub(crate) const MAX_DATAGRAM: usize = 64 * 1000;

/// A UDP socket aimed at the daemon, or nothing when the address is unusable.
pub(crate) struct Emitter {
    target: Option<(UdpSocket, SocketAddr)>,
}

/// `AWS_XRAY_DAEMON_ADDRESS` holds something lamina cannot send to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddressError(String);

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{DAEMON_ADDRESS}` is `{}`, not `host:port` or `tcp:host:port udp:host:port`",
            self.0
        )
    }
}

impl Emitter {
    /// The process's emitter, aimed at `AWS_XRAY_DAEMON_ADDRESS`; built on first use.
    pub(crate) fn global() -> &'static Emitter {
        static GLOBAL: OnceLock<Emitter> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            let address = std::env::var(DAEMON_ADDRESS).unwrap_or_else(|_| DEFAULT_ADDRESS.into());
            Emitter::to(&address)
        })
    }

    /// An emitter aimed at `address` (either form `AWS_XRAY_DAEMON_ADDRESS` takes). An unusable
    /// address gives an emitter that drops everything, after one debug log.
    pub(crate) fn to(address: &str) -> Emitter {
        let target = udp_address(address).and_then(|addr| {
            let local: SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let socket = UdpSocket::bind(local)
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .map_err(|e| {
                    AddressError(format!("{address} (binding a UDP socket failed: {e})"))
                })?;
            Ok((socket, addr))
        });
        match target {
            Ok(target) => Emitter {
                target: Some(target),
            },
            Err(err) => {
                tracing::debug!("X-Ray documents will be dropped: {err}");
                Emitter { target: None }
            }
        }
    }

    /// Sends one datagram (protocol header included); a failure is logged and forgotten.
    pub(crate) fn send(&self, datagram: &[u8]) {
        debug_assert!(datagram.starts_with(PROTOCOL_HEADER));
        let Some((socket, addr)) = &self.target else {
            return;
        };
        if let Err(err) = socket.send_to(datagram, addr) {
            tracing::debug!(
                bytes = datagram.len(),
                "an X-Ray document was dropped: {err}"
            );
        }
    }
}

/// The UDP address in either form of `AWS_XRAY_DAEMON_ADDRESS`.
pub(crate) fn udp_address(value: &str) -> Result<SocketAddr, AddressError> {
    let bad = || AddressError(value.to_owned());
    let parts: Vec<&str> = value.split_whitespace().collect();
    let host_port = match parts.as_slice() {
        [single] if !single.starts_with("tcp:") && !single.starts_with("udp:") => *single,
        [a, b] => [a, b]
            .into_iter()
            .find_map(|p| p.strip_prefix("udp:"))
            .filter(|_| a.starts_with("tcp:") || b.starts_with("tcp:"))
            .ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    // Resolves a host name once, when the emitter is built; Lambda passes an IP address.
    host_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_address_forms_are_read() {
        assert_eq!(
            udp_address("169.254.79.129:2000").unwrap(),
            "169.254.79.129:2000".parse().unwrap()
        );
        assert_eq!(
            udp_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2001").unwrap(),
            "127.0.0.2:2001".parse().unwrap()
        );
        assert_eq!(
            udp_address("udp:127.0.0.2:2001 tcp:127.0.0.1:2000").unwrap(),
            "127.0.0.2:2001".parse().unwrap()
        );
        for bad in [
            "",
            "127.0.0.1",
            "udp:127.0.0.1:2000",
            "tcp:1.2.3.4:1 tcp:1.2.3.4:2",
            "a b c",
            "127.0.0.1:notaport",
        ] {
            assert!(udp_address(bad).is_err(), "{bad}");
        }
        assert_eq!(
            udp_address("nonsense").unwrap_err().to_string(),
            "`AWS_XRAY_DAEMON_ADDRESS` is `nonsense`, not `host:port` or `tcp:host:port udp:host:port`"
        );
    }

    #[test]
    fn an_unusable_address_drops_without_failing() {
        let emitter = Emitter::to("not an address");
        assert!(emitter.target.is_none());
        let mut datagram = PROTOCOL_HEADER.to_vec();
        datagram.extend_from_slice(b"{}");
        emitter.send(&datagram);
    }
}
