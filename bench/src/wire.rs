//! A minimal WebSocket client for S4's thousand readers: the handshake, masked text frames out,
//! and frames in read straight from a buffered TCP stream into one reused buffer.
//!
//! Why not `tokio-tungstenite` there: with it the bench's readers took 34 % of the machine in the
//! one-room case (200,000 frames a second, as much as the server's 36 %), and the load generator
//! shares the two cores with what it measures. This reader does only what S4 needs: no
//! extensions, no fragmented messages (the server sends none), pings answered, a close ends it.

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Any 16 bytes in base 64 will do: the server only echoes its digest, which is not checked
/// here (the socket is the bench's own, to its own server).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// One client socket.
pub struct RawSocket {
    stream: BufReader<TcpStream>,
    payload: Vec<u8>,
}

impl RawSocket {
    /// Opens `path` (with its query) on `base` (`http://host:port`) as a WebSocket.
    pub async fn connect(base: &str, path: &str) -> anyhow::Result<RawSocket> {
        let host = base
            .strip_prefix("http://")
            .context("S4's readers need an http:// target")?
            .trim_end_matches('/');
        let stream = TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        let mut stream = BufReader::new(stream);
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        stream.read_line(&mut line).await?;
        anyhow::ensure!(
            line.split(' ').nth(1) == Some("101"),
            "the handshake was answered {line:?}"
        );
        // The rest of the answer's head.
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 || line == "\r\n" {
                break;
            }
        }
        Ok(RawSocket {
            stream,
            payload: Vec::new(),
        })
    }

    /// Sends one text frame (masked, as a client must; with a zero mask the payload goes as is).
    pub async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.send(TEXT, text.as_bytes()).await
    }

    async fn send(&mut self, opcode: u8, payload: &[u8]) -> anyhow::Result<()> {
        let mut frame = Vec::with_capacity(payload.len() + 14);
        frame.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= usize::from(u16::MAX) => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0; 4]);
        frame.extend_from_slice(payload);
        self.stream.get_mut().write_all(&frame).await?;
        Ok(())
    }

    /// The next text frame's payload; `None` when the server closed the socket. Pings are
    /// answered on the way.
    pub async fn next_text(&mut self) -> anyhow::Result<Option<&str>> {
        loop {
            let mut head = [0u8; 2];
            if self.stream.read_exact(&mut head).await.is_err() {
                return Ok(None);
            }
            let opcode = head[0] & 0x0F;
            let masked = head[1] & 0x80 != 0;
            let length = match head[1] & 0x7F {
                126 => u64::from(self.stream.read_u16().await?),
                127 => self.stream.read_u64().await?,
                n => u64::from(n),
            };
            let mut mask = [0u8; 4];
            if masked {
                self.stream.read_exact(&mut mask).await?;
            }
            self.payload.resize(usize::try_from(length)?, 0);
            self.stream.read_exact(&mut self.payload).await?;
            if masked {
                for (i, byte) in self.payload.iter_mut().enumerate() {
                    *byte ^= mask[i % 4];
                }
            }
            match opcode {
                TEXT => return Ok(Some(std::str::from_utf8(&self.payload)?)),
                CLOSE => return Ok(None),
                PING => {
                    let payload = std::mem::take(&mut self.payload);
                    self.send(PONG, &payload).await?;
                    self.payload = payload;
                }
                _ => {}
            }
        }
    }
}
