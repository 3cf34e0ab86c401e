//! Noticing a server that no longer answers at all, in minutes rather than after
//! `run.query_timeout` (30 min by default) per request.
//!
//! influxd out of open files stops accepting connections (`accept4: too many open
//! files` in its log), yet the kernel still completes TCP handshakes into the listen
//! backlog: requests are sent and then wait for their timeout. A stopped (SIGSTOP) or
//! hung process looks the same. So every [`Client`](crate::influx::client::Client)
//! reports its requests in flight and the answers it gets to a per-server [`Activity`],
//! and a [`Watchdog`] pings each server whose requests have waited a while without any
//! answer: a probe on a **new** connection (a pooled keep-alive connection was
//! accepted long ago and may still answer) with a short timeout. The probe is a query
//! that reads the storage engine (`SHOW MEASUREMENTS ON <db> LIMIT 1`, on a database
//! the clients used), and `GET /ping` only while none is known: influxd 1.6.7 out of
//! open files can deadlock its storage (a series file that fails to open closes itself
//! under its own lock while the store's lock is held, influxdb#10540, fixed in 1.7.7),
//! and then answers `/ping` forever while no query or write ever completes. Probes
//! that answer mean the server is alive and just slow (a long `SELECT INTO` is never cut short
//! here: `query_timeout` stays the per-request limit). The server is judged by the
//! waiting requests' progress, not by the pings alone: influxd just at its file limit
//! accepts a ping now and then between refusals while the copies stay unanswered. So
//! misses count from the last time a real request got an answer, an answered ping does
//! not reset them, and the server is lost once there are [`MISSES`] of them and they
//! outnumber the answered pings (a busy but healthy server answers nearly every ping);
//! the watchdog says so once, with the likely cause.

use crate::influx::endpoint::{http_client, Endpoint};
use crate::influx::statement::ident;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Unanswered pings since the last real answer, at least, for a server to be lost.
pub const MISSES: u32 = 3;
/// Longest wait for one ping's answer.
pub const MAX_PING_TIMEOUT: Duration = Duration::from_secs(10);

/// How patient the watchdog is; built from `run.liveness_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// How long requests wait without any answer before the first ping, and between
    /// pings: a third of the timeout, so that [`MISSES`] pings span it.
    pub interval: Duration,
    /// How long one ping waits for its answer.
    pub ping_timeout: Duration,
}

impl Liveness {
    /// The watchdog for `timeout` (about how long a silent server is borne); `None`
    /// when zero (off: each request then waits up to the query timeout).
    pub fn new(timeout: Duration) -> Option<Liveness> {
        if timeout.is_zero() {
            return None;
        }
        let interval = timeout / MISSES;
        Some(Liveness {
            interval,
            ping_timeout: interval.min(MAX_PING_TIMEOUT),
        })
    }
}

/// One server's requests in flight and when it last answered, shared by every client
/// of that URL.
#[derive(Debug)]
pub struct Activity {
    endpoint: Endpoint,
    in_flight: AtomicUsize,
    /// The last answer (headers or body bytes), or when requests began waiting after
    /// none did.
    heard: Mutex<Instant>,
    /// The first database a client used on this server: what probes read.
    database: Mutex<Option<String>>,
}

impl Activity {
    /// Notes that a client used `db` on this server, so that probes can read it.
    pub(crate) fn used_database(&self, db: &str) {
        let mut d = self.database.lock().unwrap_or_else(|p| p.into_inner());
        if d.is_none() {
            *d = Some(db.to_string());
        }
    }

    fn probe_database(&self) -> Option<String> {
        self.database
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn touch(&self) {
        *self.heard.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn silent_for(&self) -> Duration {
        self.heard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    /// Marks a request as sent; it counts as waiting until the guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        if self.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            // Time spent idle is not silence.
            self.touch();
        }
        InFlight(self.clone())
    }
}

/// A request in flight; dropped when its answer was read (or it failed).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl InFlight {
    /// The server sent something for this request: it is alive.
    pub(crate) fn answered(&self) {
        self.0.touch();
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The servers this process talks to, one [`Activity`] per URL.
static SERVERS: Mutex<Vec<Weak<Activity>>> = Mutex::new(Vec::new());

/// The activity of the server `endpoint` names, shared with every client of its URL.
pub(crate) fn activity_for(endpoint: &Endpoint) -> Arc<Activity> {
    let mut servers = SERVERS.lock().unwrap_or_else(|p| p.into_inner());
    servers.retain(|w| w.strong_count() > 0);
    if let Some(a) = servers
        .iter()
        .filter_map(Weak::upgrade)
        .find(|a| a.endpoint.url == endpoint.url)
    {
        return a;
    }
    let a = Arc::new(Activity {
        endpoint: endpoint.clone(),
        in_flight: AtomicUsize::new(0),
        heard: Mutex::new(Instant::now()),
        database: Mutex::new(None),
    });
    servers.push(Arc::downgrade(&a));
    a
}

fn servers() -> Vec<Arc<Activity>> {
    let servers = SERVERS.lock().unwrap_or_else(|p| p.into_inner());
    servers.iter().filter_map(Weak::upgrade).collect()
}

/// A server found lost: the one-line error, naming it and the likely cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Lost(pub String);

/// The pings of one server since a real request last got an answer, and what they
/// found.
#[derive(Debug, Default)]
struct Pings {
    last: Option<Instant>,
    misses: u32,
    answered: u32,
}

impl Pings {
    /// Whether to ping now: requests wait, the server has been silent for an
    /// interval, and the last ping is an interval old.
    fn due(&self, waiting: usize, silent: Duration, now: Instant, l: &Liveness) -> bool {
        waiting > 0
            && silent >= l.interval
            && self
                .last
                .is_none_or(|t| now.duration_since(t) >= l.interval)
    }

    /// Notes a ping sent at `at`; `true` when the server is now lost: [`MISSES`]
    /// pings went unanswered and they outnumber those answered. An answered ping alone
    /// proves little (a server at its file limit accepts one now and then), so only a
    /// real answer ([`Pings::default`]) starts the count again.
    fn record(&mut self, at: Instant, answered: bool) -> bool {
        self.last = Some(at);
        if answered {
            self.answered += 1;
        } else {
            self.misses += 1;
        }
        self.misses >= MISSES && self.misses > self.answered
    }

    /// Pings sent since the last real answer.
    fn sent(&self) -> u32 {
        self.misses + self.answered
    }
}

/// The error line for a server lost after it was silent for `silent`, with what its
/// pings found.
fn lost_message(url: &str, silent: Duration, waiting: usize, p: &Pings, l: &Liveness) -> String {
    let secs = |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs()));
    format!(
        "server {url}: no answer for {} while {waiting} request(s) were waiting, and probes on a new connection (a query reading its storage, or /ping) got no answer {} of {} times ({} each); influxd may have run out of open files (see its log for 'too many open files'; raise LimitNOFILE) or stopped (run.liveness_timeout sets how long this waits)",
        secs(silent),
        p.misses,
        p.sent(),
        secs(l.ping_timeout),
    )
}

/// The probe's path and query string: a statement that has to take the storage
/// engine's lock on `database` (an answer proves queries can still run), or `/ping`
/// while no database is known.
fn probe(database: Option<&str>) -> (&'static str, Vec<(&'static str, String)>) {
    match database {
        Some(db) => (
            "/query",
            vec![("q", format!("SHOW MEASUREMENTS ON {} LIMIT 1", ident(db)))],
        ),
        None => ("/ping", Vec::new()),
    }
}

/// The probe ([`probe`]) on a connection of its own; `true` when the server answered
/// at all (an error answer is an answer: the server works).
async fn probe_fresh(endpoint: &Endpoint, database: Option<&str>, timeout: Duration) -> bool {
    let Ok(http) = http_client(endpoint, timeout, false) else {
        return false;
    };
    let (path, query) = probe(database);
    let mut rb = http.get(format!("{}{path}", endpoint.url)).query(&query);
    if let Some(t) = &endpoint.token {
        rb = rb.header(
            reqwest::header::AUTHORIZATION,
            format!("Token {}", t.expose()),
        );
    } else if let Some(u) = &endpoint.username {
        rb = rb.basic_auth(
            u,
            endpoint.password.as_ref().map(|p| p.expose().to_string()),
        );
    }
    rb.send().await.is_ok()
}

/// Watches every server this process talks to while it lives (see the module doc).
#[derive(Debug)]
pub struct Watchdog {
    lost: watch::Receiver<Option<Lost>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching; `None` never finds a server lost.
    pub fn spawn(liveness: Option<Liveness>) -> Watchdog {
        let (tx, lost) = watch::channel(None);
        let task = liveness.map(|l| tokio::spawn(watch_servers(l, tx)));
        Watchdog { lost, task }
    }

    /// The server found lost, if one was.
    pub fn lost(&self) -> Option<Lost> {
        self.lost.borrow().clone()
    }

    /// Completes when a server is found lost; never, while none is.
    pub fn when_lost(&self) -> impl Future<Output = Lost> + Send + 'static {
        let mut rx = self.lost.clone();
        async move {
            let found = rx.wait_for(Option::is_some).await.map(|l| l.clone());
            match found {
                Ok(Some(l)) => l,
                // The watchdog is gone: nothing can be found lost any more.
                _ => std::future::pending().await,
            }
        }
    }

    /// Runs `work` unless a server is found lost first (then it is dropped, its
    /// requests with it).
    pub async fn guard<T>(&self, work: impl Future<Output = T>) -> Result<T, Lost> {
        tokio::select! {
            biased;
            lost = self.when_lost() => Err(lost),
            r = work => Ok(r),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// The watchdog's loop: checks every server a few times per interval and pings those
/// due, all at once; stops after reporting the first lost server.
async fn watch_servers(l: Liveness, tx: watch::Sender<Option<Lost>>) {
    let mut pings: Vec<(Weak<Activity>, Pings)> = Vec::new();
    let tick = (l.interval / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        tokio::time::sleep(tick).await;
        let now = Instant::now();
        let mut due = Vec::new();
        for a in servers() {
            let at = match pings
                .iter()
                .position(|(w, _)| w.as_ptr() == Arc::as_ptr(&a))
            {
                Some(i) => i,
                None => {
                    pings.push((Arc::downgrade(&a), Pings::default()));
                    pings.len() - 1
                }
            };
            let waiting = a.in_flight.load(Ordering::SeqCst);
            let p = &mut pings[at].1;
            let silent = a.silent_for();
            if waiting == 0 || silent < l.interval {
                // It answered (or nothing waits): earlier misses no longer count.
                *p = Pings::default();
            } else if p.due(waiting, silent, now, &l) {
                due.push((at, a));
            }
        }
        let answers = futures::future::join_all(due.iter().map(|(_, a)| async {
            let db = a.probe_database();
            probe_fresh(&a.endpoint, db.as_deref(), l.ping_timeout).await
        }))
        .await;
        for ((at, a), answered) in due.into_iter().zip(answers) {
            tracing::debug!(server = %a.endpoint.url, answered, "liveness ping");
            if pings[at].1.record(now, answered) {
                let waiting = a.in_flight.load(Ordering::SeqCst);
                let message =
                    lost_message(&a.endpoint.url, a.silent_for(), waiting, &pings[at].1, &l);
                let _ = tx.send(Some(Lost(message)));
                return;
            }
        }
        pings.retain(|(w, _)| w.strong_count() > 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn liveness() -> Liveness {
        Liveness::new(Duration::from_secs(90)).unwrap()
    }

    /// A 90 s timeout pings every 30 s with 10 s per ping; a short one keeps the ping
    /// within the interval; zero is off.
    #[test]
    fn intervals_from_the_timeout() {
        let l = liveness();
        assert_eq!(l.interval, Duration::from_secs(30));
        assert_eq!(l.ping_timeout, Duration::from_secs(10));
        let short = Liveness::new(Duration::from_secs(3)).unwrap();
        assert_eq!(short.interval, Duration::from_secs(1));
        assert_eq!(short.ping_timeout, Duration::from_secs(1));
        assert_eq!(Liveness::new(Duration::ZERO), None);
    }

    /// No ping while nothing waits or the server answered within the interval; then
    /// one per interval.
    #[test]
    fn pings_only_when_waiting_in_silence() {
        let (l, now) = (liveness(), Instant::now());
        let mut p = Pings::default();
        assert!(!p.due(0, Duration::from_secs(300), now, &l));
        assert!(!p.due(4, Duration::from_secs(29), now, &l));
        assert!(p.due(4, Duration::from_secs(30), now, &l));
        p.record(now, true);
        assert!(!p.due(
            4,
            Duration::from_secs(40),
            now + Duration::from_secs(10),
            &l
        ));
        assert!(p.due(
            4,
            Duration::from_secs(60),
            now + Duration::from_secs(30),
            &l
        ));
    }

    /// Feeds `pings` (answered or not) to fresh [`Pings`]; the 1-based ping at which
    /// the server was found lost, if it was.
    fn lost_at(pings: &[bool]) -> Option<usize> {
        let mut p = Pings::default();
        let now = Instant::now();
        pings
            .iter()
            .position(|&answered| p.record(now, answered))
            .map(|i| i + 1)
    }

    /// MISSES unanswered pings in a row make a silent server lost; fewer do not.
    #[test]
    fn lost_after_misses_in_a_row() {
        assert_eq!(lost_at(&[false, false, false]), Some(3));
        assert_eq!(lost_at(&[false, false]), None);
    }

    /// A server at its file limit that accepts a ping now and then between refusals,
    /// while the requests stay unanswered, is still lost: an answered ping does not
    /// start the count again; the misses need only outnumber the answers.
    #[test]
    fn an_answered_ping_does_not_reset_the_misses() {
        assert_eq!(lost_at(&[false, false, true, false]), Some(4));
        assert_eq!(lost_at(&[true, false, false, false]), Some(4));
        assert_eq!(
            lost_at(&[true, true, false, true, false, false, false]),
            Some(7)
        );
    }

    /// A healthy server busy with a long `SELECT INTO` answers its pings: an
    /// occasional miss among many answers never makes it lost, however long it runs.
    #[test]
    fn occasional_misses_on_a_busy_server_are_borne() {
        let mut pings = vec![true; 4];
        for _ in 0..60 {
            pings.extend([true, true, false]);
        }
        assert_eq!(lost_at(&pings), None);
        assert_eq!(lost_at(&[true, true, true, false, false, false]), None);
    }

    /// A real answer starts the count again (the watchdog then begins a fresh
    /// [`Pings`]): misses before it never add to those after it.
    #[test]
    fn a_real_answer_resets_the_count() {
        let now = Instant::now();
        let mut p = Pings::default();
        assert!(!p.record(now, false));
        assert!(!p.record(now, false));
        p = Pings::default();
        assert!(!p.record(now, false));
        assert!(!p.record(now, false));
        assert!(p.record(now, false));
        assert_eq!((p.misses, p.sent()), (3, 3));
    }

    /// The error names the server, the silence, the waiting requests and the likely
    /// cause.
    #[test]
    fn message_names_server_and_cause() {
        let mut p = Pings::default();
        for answered in [false, true, false, false] {
            p.record(Instant::now(), answered);
        }
        let m = lost_message(
            "http://db:8086",
            Duration::from_millis(95_400),
            4,
            &p,
            &liveness(),
        );
        assert!(
            m.starts_with(
                "server http://db:8086: no answer for 1m 35s while 4 request(s) were waiting"
            ),
            "{m}"
        );
        assert!(m.contains("no answer 3 of 4 times (10s each)"), "{m}");
        assert!(m.contains("too many open files"), "{m}");
    }

    /// Probes read the storage of the first database a client used (quoted), so that a
    /// server whose storage is deadlocked does not pass for alive; `/ping` until one is
    /// known.
    #[test]
    fn probe_reads_the_storage_of_a_used_database() {
        assert_eq!(probe(None), ("/ping", Vec::new()));
        let (path, q) = probe(Some("mon\"ey"));
        assert_eq!(path, "/query");
        assert_eq!(
            q,
            vec![(
                "q",
                "SHOW MEASUREMENTS ON \"mon\\\"ey\" LIMIT 1".to_string()
            )]
        );
        let a = activity_for(&Endpoint {
            url: "http://liveness-probe:1".into(),
            ..Endpoint::default()
        });
        assert_eq!(a.probe_database(), None);
        a.used_database("monasca");
        a.used_database("monasca_t1");
        assert_eq!(a.probe_database().as_deref(), Some("monasca"));
    }

    /// Clients of one URL share its activity; requests count as waiting until their
    /// guard drops.
    #[test]
    fn activity_per_url() {
        let e = Endpoint {
            url: "http://liveness-test:1".into(),
            ..Endpoint::default()
        };
        let (a, b) = (activity_for(&e), activity_for(&e));
        assert!(Arc::ptr_eq(&a, &b));
        let g = a.begin();
        assert_eq!(b.in_flight.load(Ordering::SeqCst), 1);
        drop(g);
        assert_eq!(b.in_flight.load(Ordering::SeqCst), 0);
    }
}
