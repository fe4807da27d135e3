//! The real-time scenarios: S4, fan-out to WebSocket clients in one room and in many under a
//! steady creation rate, and S7, a client that missed events catching up from the log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use super::{Bench, key};
use crate::wire::RawSocket;

impl Bench {
    /// S4: 1,000 WebSocket clients in one project room, then 10,000 over 100 rooms (100 a
    /// room), while creates arrive at 200/s spread over the rooms' projects.
    pub async fn s4(&mut self) -> anyhow::Result<()> {
        let cases: &[(usize, usize)] = if self.quick {
            &[(100, 1), (200, 10)]
        } else {
            &[(1_000, 1), (10_000, 100)]
        };
        for &(clients, rooms) in cases {
            self.fanout(clients, rooms).await?;
        }
        Ok(())
    }

    /// `clients` sockets over `rooms` project rooms (client `c` in room `c % rooms`) while
    /// creates arrive at 200/s, create `n` in project `n % rooms`; delivery latency and drops.
    async fn fanout(&mut self, clients: usize, rooms: usize) -> anyhow::Result<()> {
        let owner = self.owner("s4").await?;
        let mut projects = Vec::with_capacity(rooms);
        for _ in 0..rooms {
            projects.push(owner.project(&key("F")).await?);
        }
        let mut readers = Vec::with_capacity(clients);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        for c in 0..clients {
            let room_index = c % rooms;
            let room = format!("project:{}", projects[room_index]);
            let ticket = owner.ticket().await?;
            let path = format!("/api/v1/ws?ticket={ticket}");
            let mut socket = RawSocket::connect(&self.base, &path).await?;
            let join = json!({"type": "join", "data": {"room": room}}).to_string();
            socket.send_text(&join).await?;
            // Wait for `joined` before the next client, so every socket is in the room.
            while let Some(text) = socket.next_text().await? {
                if text.contains(r#""type":"joined""#) {
                    break;
                }
            }
            let mut stopped = stopped.clone();
            // Room for every create this reader will see: a map or a vector that grows while
            // frames arrive reallocates in all thousand readers at the same moment (they receive
            // the same frames), a stall of the generator that the report would count as delivery.
            let expected = creates_expected(self.duration, rooms);
            readers.push(tokio::spawn(async move {
                let mut received = Vec::with_capacity(expected);
                // One wait for the end, not one per frame: registering and dropping a waiter per
                // frame cost the generator as much as the frame's search.
                let stop = stopped.changed();
                tokio::pin!(stop);
                // Reads until the creates are over and the last frames had time to arrive.
                loop {
                    let text = tokio::select! {
                        biased;
                        text = socket.next_text() => match text {
                            Ok(Some(text)) => text,
                            _ => break,
                        },
                        _ = &mut stop => break,
                    };
                    // A substring search, not a JSON parse: thousands of readers in this process
                    // must not starve the server of the CPU it is being measured on.
                    if text.contains(r#""type":"task_created""#)
                        && let Some(number) = number_in(text)
                    {
                        received.push((number, Instant::now()));
                    }
                }
                anyhow::Ok((room_index, received))
            }));
        }
        self.analyze().await?;
        // 200 creates per second, each on its own task so that a slow one does not delay the
        // schedule.
        type Sent = HashMap<(usize, u64), (Instant, Instant)>;
        let sent = Arc::new(Mutex::new(Sent::new()));
        let meter = crate::cpu::Meter::start(self.server_pid);
        let mut ticks = tokio::time::interval(Duration::from_millis(5));
        let deadline = Instant::now() + self.duration;
        let mut creates = Vec::new();
        let mut errors = 0;
        let mut n = 0;
        while Instant::now() < deadline {
            ticks.tick().await;
            let room_index = n % rooms;
            n += 1;
            let (api, project, sent) = (owner.clone(), projects[room_index].clone(), sent.clone());
            creates.push(tokio::spawn(async move {
                let started = Instant::now();
                let answer = api.create(&project, "fan-out").await?;
                anyhow::ensure!(
                    answer.status == StatusCode::CREATED,
                    "a create answered {}: {}",
                    answer.status,
                    answer.body
                );
                let number = answer.body["number"].as_u64().context("no number")?;
                sent.lock()
                    .await
                    .insert((room_index, number), (started, Instant::now()));
                anyhow::Ok(())
            }));
        }
        let mut reasons = Vec::new();
        for create in creates {
            let failure = match create.await {
                Ok(Ok(())) => continue,
                Ok(Err(error)) => format!("{error:#}"),
                Err(error) => error.to_string(),
            };
            errors += 1;
            if reasons.len() < 3 && !reasons.contains(&failure) {
                reasons.push(failure);
            }
        }
        for reason in reasons {
            self.report.note(format!("S4: {reason}"));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        // The creates and the frames' delivery, not the sockets' connecting.
        let cpu = meter.shares();
        stop.send(true)?;
        let sent = sent.lock().await.clone();
        let (mut after_response, mut after_request, mut received) = (Vec::new(), Vec::new(), 0u64);
        for reader in readers {
            if let Ok(Ok((room_index, got))) = reader.await {
                received += got.len() as u64;
                for (number, at) in got {
                    if let Some((request, response)) = sent.get(&(room_index, number)) {
                        after_response.push(at.saturating_duration_since(*response));
                        after_request.push(at.duration_since(*request));
                    }
                }
            }
        }
        // Every create reaches the sockets of its room.
        let expected: u64 = (0..rooms)
            .map(|room| {
                let sockets = (0..clients).filter(|c| c % rooms == room).count() as u64;
                let created = sent.keys().filter(|(r, _)| *r == room).count() as u64;
                sockets * created
            })
            .sum();
        let case = format!(
            "{clients} sockets in {rooms} room{}",
            if rooms == 1 { "" } else { "s" }
        );
        self.report.fanout(
            &case,
            rooms == 1,
            sent.len(),
            errors,
            &mut after_response,
            &mut after_request,
            expected,
            received,
        );
        let label = format!("{case}, {} creates", sent.len());
        self.report
            .value("S4", &label, "CPU", cpu.to_string(), None);
        Ok(())
    }

    /// S7: a client that missed 10,000 events rejoins with `since` and catches up from the log;
    /// the time until its last missed event arrived, and events per second. Also checks that it
    /// got exactly the missed `seq`s, in order.
    pub async fn s7(&mut self) -> anyhow::Result<()> {
        let missed: u64 = if self.quick { 1_000 } else { 10_000 };
        let owner = self.owner("s7").await?;
        let project = owner.project(&key("R")).await?;
        // Batches of 500 creations: one event each (and one status change at the start).
        owner.fill(&project, usize::try_from(missed)?).await?;
        let head = owner
            .must(
                Method::GET,
                &format!("/projects/{project}/events?after={}&limit=1000", missed - 1),
                None,
                StatusCode::OK,
            )
            .await?["next_after"]
            .as_u64()
            .context("no next_after")?;
        let ticket = owner.ticket().await?;
        let ws_base = self.base.replacen("http://", "ws://", 1);
        let (mut socket, _) =
            tokio_tungstenite::connect_async(format!("{ws_base}/api/v1/ws?ticket={ticket}"))
                .await?;
        let join =
            json!({"type": "join", "data": {"room": format!("project:{project}"), "since": 0}});
        let started = Instant::now();
        futures::SinkExt::send(&mut socket, Message::Text(join.to_string().into())).await?;
        let mut next = 1;
        let mut out_of_order = 0u64;
        let deadline = started + Duration::from_secs(120);
        while next <= head && Instant::now() < deadline {
            let message = match tokio::time::timeout_at(deadline.into(), socket.next()).await {
                Ok(Some(Ok(message))) => message,
                _ => break,
            };
            if let Message::Text(text) = message
                && let Some(seq) = seq_in(&text)
            {
                if seq != next {
                    out_of_order += 1;
                }
                next = seq + 1;
            }
        }
        let took = started.elapsed();
        let caught_up = next > head;
        let case = format!("{head} missed events");
        self.report.millis("S7", &case, "catch-up time", took, None);
        self.report.value(
            "S7",
            &case,
            "events/s",
            format!("{:.0}", head as f64 / took.as_secs_f64()),
            None,
        );
        self.report.value(
            "S7",
            &case,
            "all, in order, once",
            format!("{}", caught_up && out_of_order == 0),
            Some(("true", caught_up && out_of_order == 0)),
        );
        Ok(())
    }
}

/// Creates one S4 reader sees: 200 a second spread over the rooms, with room to spare.
fn creates_expected(duration: Duration, rooms: usize) -> usize {
    let creates = (duration.as_secs_f64() * 200.0) as usize;
    creates / rooms.max(1) * 5 / 4 + 16
}

/// The task number in a `task_created` frame (`"number":42`), read without allocating.
fn number_in(frame: &str) -> Option<u64> {
    let start = frame.find(r#""number":"#)? + r#""number":"#.len();
    let digits = &frame[start..];
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// The `"seq":N` of an event frame, found without parsing the frame.
fn seq_in(frame: &str) -> Option<u64> {
    let start = frame.find(r#""seq":"#)? + 6;
    let digits: String = frame[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
