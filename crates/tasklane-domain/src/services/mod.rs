//! Services: the operations of Tasklane, each following "Ordering of effects" of docs/domain.md:
//! validate (no writes), one transaction through a port, then — only after commit and without
//! awaiting them — broadcasts and cache writes built from plain data.

pub(crate) mod bootstrap;
pub mod comments;
pub(crate) mod effects;
pub mod events;
pub mod labels;
pub mod members;
pub mod projects;
pub mod sessions;
pub mod statuses;
pub mod tasks;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use crate::aggregation::DerivationPolicy;
use crate::ports::{
    AggregationCache, AggregationRepository, Clock, CommentRepository, EventBroadcaster,
    EventEncoder, EventLogRepository, IdempotencyRepository, LabelRepository, PasswordHasher,
    ProjectRepository, RefreshTokenRepository, TaskRepository, TokenIssuer, UserRepository,
};
use crate::validation::ValidationErrors;
use crate::values::{Lines, check_controls};

pub use bootstrap::BootstrapSource;

/// Every port the services use, as shared trait objects.
#[derive(Clone)]
pub struct Ports {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Projects, members, statuses.
    pub projects: Arc<dyn ProjectRepository>,
    /// Tasks.
    pub tasks: Arc<dyn TaskRepository>,
    /// Comments on tasks.
    pub comments: Arc<dyn CommentRepository>,
    /// Labels.
    pub labels: Arc<dyn LabelRepository>,
    /// Aggregation rows.
    pub aggregations: Arc<dyn AggregationRepository>,
    /// The aggregation bootstrap cache.
    pub cache: Arc<dyn AggregationCache>,
    /// The event log, for reading and pruning (writes log their events themselves).
    pub events: Arc<dyn EventLogRepository>,
    /// Encodes each event's `data` once, for the log and the live frame alike.
    pub encoder: Arc<dyn EventEncoder>,
    /// The event broadcaster.
    pub broadcaster: Arc<dyn EventBroadcaster>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The password hasher.
    pub passwords: Arc<dyn PasswordHasher>,
    /// Sessions' refresh tokens.
    pub refresh_tokens: Arc<dyn RefreshTokenRepository>,
    /// The tokens of a session.
    pub tokens: Arc<dyn TokenIssuer>,
    /// The request keys of task creations.
    pub idempotency: Arc<dyn IdempotencyRepository>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

/// Settings that change the domain's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainSettings {
    /// How the project status is derived.
    pub derivation_policy: DerivationPolicy,
    /// How long bootstrap counts stay in the cache (the seed's 1 h).
    pub bootstrap_ttl: Duration,
    /// Done tasks older than this many days are archived by the background job.
    pub archive_after_days: u32,
    /// How long a refresh token lives.
    pub refresh_token_ttl: Duration,
    /// How long a request key's first response is replayed.
    pub idempotency_window: Duration,
    /// A request key reserved this long without a response was abandoned (a crashed request).
    pub idempotency_stale: Duration,
}

impl Default for DomainSettings {
    fn default() -> Self {
        Self {
            derivation_policy: DerivationPolicy::ActiveWins,
            bootstrap_ttl: Duration::from_secs(3600),
            archive_after_days: 7,
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            idempotency_window: Duration::from_secs(24 * 3600),
            idempotency_stale: Duration::from_secs(60),
        }
    }
}

/// Every service, built from one set of ports and settings.
#[derive(Debug, Clone)]
pub struct Services {
    /// Accounts and profiles.
    pub users: users::UserService,
    /// Sessions: registration, login, refresh, logout.
    pub sessions: sessions::SessionService,
    /// Projects and their aggregation.
    pub projects: projects::ProjectService,
    /// Members.
    pub members: members::MemberService,
    /// Comments on tasks.
    pub comments: comments::CommentService,
    /// Labels.
    pub labels: labels::LabelService,
    /// Statuses.
    pub statuses: statuses::StatusService,
    /// Tasks.
    pub tasks: tasks::TaskService,
    /// The project event log: catch-up and history.
    pub events: events::EventService,
}

impl Services {
    /// Builds every service.
    pub fn new(ports: Ports, settings: DomainSettings) -> Self {
        let ports = Arc::new(ports);
        Self {
            users: users::UserService::new(ports.clone()),
            sessions: sessions::SessionService::new(ports.clone(), settings),
            projects: projects::ProjectService::new(ports.clone(), settings),
            members: members::MemberService::new(ports.clone()),
            comments: comments::CommentService::new(ports.clone()),
            labels: labels::LabelService::new(ports.clone()),
            statuses: statuses::StatusService::new(ports.clone()),
            events: events::EventService::new(ports.clone()),
            tasks: tasks::TaskService::new(ports, settings),
        }
    }
}

/// Page sizes accepted by listings.
pub const PAGE_LIMITS: std::ops::RangeInclusive<u32> = 1..=200;
/// The longest search text accepted by listings.
pub const MAX_SEARCH_CHARS: usize = 200;

/// The page size of a listing (`default` when absent), recording an error outside
/// [`PAGE_LIMITS`].
pub(crate) fn page_limit(errors: &mut ValidationErrors, limit: Option<u32>, default: u32) -> u32 {
    let limit = limit.unwrap_or(default);
    if !PAGE_LIMITS.contains(&limit) {
        errors.add("limit", "must be between 1 and 200");
    }
    limit
}

/// The trimmed search text of a listing (`None` when blank), recording an error when it is too
/// long as sent or holds a control character.
pub fn search_text(errors: &mut ValidationErrors, search: Option<&str>) -> Option<String> {
    let raw = search?;
    if raw.chars().count() > MAX_SEARCH_CHARS {
        errors.add(
            "search",
            format!("must be at most {MAX_SEARCH_CHARS} characters long"),
        );
    }
    let search = raw.trim();
    errors.check("search", check_controls(search, Lines::Single));
    (!search.is_empty()).then(|| search.to_owned())
}
