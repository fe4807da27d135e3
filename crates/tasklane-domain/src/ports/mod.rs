//! Ports: the traits adapters implement. Repositories for users, projects (with members and
//! statuses), tasks, comments, labels and the aggregation; refresh tokens and idempotency keys; the aggregation
//! bootstrap cache; the event log and its encoder; the event broadcaster; the clock; the password
//! hasher; the session token issuer; the health of the database.
//!
//! # How a transaction crosses the boundary
//! Every write is one store method that runs one whole transaction. Where the change depends on
//! data only the transaction can see (membership, the task's current status, neighbours' ranks),
//! the method takes a [`Decide`](crate::errors::Decide) function: the store reads a *context*
//! (one statement, taking the locks the method documents), calls the function, and either applies
//! the returned *plan* and commits, or rolls back and returns the refusal as
//! [`TxError::Rejected`](crate::errors::TxError). The rules stay here, in the domain; the store
//! only reads, applies and commits, in as few statements as it can (PostgreSQL: one read and one
//! data-modifying statement for a task creation).

mod aggregation;
mod auth;
mod broadcast;
mod cache;
mod clock;
mod comments;
mod events;
mod health;
mod labels;
mod passwords;
mod projects;
mod tasks;
mod users;

pub use aggregation::{
    AggregationRepair, AggregationRepository, AggregationSnapshot, InsertAggregationError,
};
pub use auth::{
    AccessToken, IdempotencyRepository, IdempotencyRequest, IdempotencyStart, NewRefreshToken,
    RefreshSecret, RefreshTokenRepository, Rotation, TokenIssuer,
};
pub use broadcast::{BroadcastError, EventBroadcaster, NoopBroadcaster};
pub use cache::{AggregationCache, BootstrapValues, CacheError, bootstrap_key};
pub use clock::{Clock, SystemClock};
pub use comments::{
    AddCommentError, CommentChange, CommentQuery, CommentRepository, CommentTarget, CommentWritten,
    CommentsRead, DeleteCommentError, EditCommentError, NewComment,
};
pub use events::{
    ChangeEvents, CreationEvents, EventEncoder, EventLogRepository, EventQuery, EventScope,
    EventsOf, EventsRead, Logged, RecordEvents, TaskRevision, WriteEvents,
};
pub use health::Health;
pub use labels::{
    CreateLabelError, DeleteLabelError, LabelContext, LabelRepository, LabelsRead, ProjectLabel,
    UpdateLabelError,
};
pub use passwords::{HashError, PasswordHasher};
pub use projects::{
    AddMemberError, ArchiveProjectError, CreateProjectStoreError, CreateStatusError,
    DeleteProjectError, DeleteStatusError, MembersRead, MembershipChange, MembershipContext,
    MembershipRequest, NewProject, NewStatus, ProjectChangeRequest, ProjectContext, ProjectCursor,
    ProjectPatch, ProjectQuery, ProjectRepository, RemoveMemberError, SetMemberRoleError,
    StatusChangeRequest, StatusContext, StatusPlan, StatusTarget, StatusesChanged, StatusesRead,
    UpdateProjectError, UpdateStatusError,
};
pub use tasks::{
    ArchiveTaskError, ArchivedByJob, CreateTaskError, CreateTasksContext, CreateTasksPlan,
    CreateTasksRequest, DeleteTaskError, ListingVersion, MoveTaskError, Neighbour, ParentCandidate,
    ProjectState, SubtaskState, TaskChangeRequest, TaskContext, TaskCursor, TaskDeletePlan,
    TaskDeleted, TaskDraft, TaskListing, TaskLookup, TaskOrder, TaskPatch, TaskQuery, TaskRead,
    TaskRepository, TaskUpdatePlan, TaskUpdated, TasksCreated, UpdateTaskError,
};
pub use users::{CreateUserStoreError, NewUser, ProfileChange, UserRepository};

#[cfg(any(test, feature = "mocks"))]
pub use aggregation::MockAggregationRepository;
#[cfg(any(test, feature = "mocks"))]
pub use auth::{MockIdempotencyRepository, MockRefreshTokenRepository, MockTokenIssuer};
#[cfg(any(test, feature = "mocks"))]
pub use broadcast::MockEventBroadcaster;
#[cfg(any(test, feature = "mocks"))]
pub use cache::MockAggregationCache;
#[cfg(any(test, feature = "mocks"))]
pub use clock::MockClock;
#[cfg(any(test, feature = "mocks"))]
pub use comments::MockCommentRepository;
#[cfg(any(test, feature = "mocks"))]
pub use events::MockEventLogRepository;
#[cfg(any(test, feature = "mocks"))]
pub use health::MockHealth;
#[cfg(any(test, feature = "mocks"))]
pub use labels::MockLabelRepository;
#[cfg(any(test, feature = "mocks"))]
pub use passwords::MockPasswordHasher;
#[cfg(any(test, feature = "mocks"))]
pub use projects::MockProjectRepository;
#[cfg(any(test, feature = "mocks"))]
pub use tasks::MockTaskRepository;
#[cfg(any(test, feature = "mocks"))]
pub use users::MockUserRepository;
