//! Measures the aggregation recount over 100,000 tasks on PostgreSQL (a report, not a test):
//! `cargo run -p tasklane-store --example recount_timing`.

#![allow(clippy::print_stdout, reason = "the report is this program's output")]

use std::time::Instant;

use chrono::Utc;
use tasklane_domain::ids::{ProjectId, StatusId, UserId};
use tasklane_domain::model::DEFAULT_STATUSES;
use tasklane_domain::ports::{
    AggregationRepository, NewProject, NewStatus, NewUser, ProjectRepository, UserRepository,
};
use tasklane_domain::values::{
    DisplayName, Email, ProjectDescription, ProjectKey, ProjectName, StatusName,
};
use tasklane_store::count_statements;
use tasklane_store::testing::TestDb;

const TASKS: i64 = 100_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let db = TestDb::postgres().await?;
    let owner = UserId::generate();
    db.store
        .create_user(NewUser {
            id: owner,
            email: Email::new("owner@example.com")?,
            display_name: DisplayName::new("Owner")?,
            avatar_url: None,
            password_hash: "x".into(),
            created_at: Utc::now(),
        })
        .await?;
    let project = ProjectId::generate();
    let statuses = DEFAULT_STATUSES
        .iter()
        .zip(0..)
        .map(|((name, category), position)| {
            Ok(NewStatus {
                id: StatusId::generate(),
                name: StatusName::new(name)?,
                category: *category,
                position,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let new = NewProject {
        id: project,
        key: ProjectKey::new("BIG")?,
        name: ProjectName::new("Big")?,
        description: ProjectDescription::new("")?,
        owner,
        statuses: statuses.clone(),
        created_at: Utc::now(),
    };
    // No events: this example times the recount only.
    db.store
        .create_project(new, Box::new(|_| Vec::new()))
        .await?;
    let ids: Vec<String> = statuses
        .iter()
        .map(|s| format!("'{}'::uuid", s.id))
        .collect();
    let seeded = Instant::now();
    db.execute(&format!(
        "INSERT INTO tasks (id, project_id, number, title, status_id, priority, task_type, rank, created_at, updated_at, archived_at) \
         SELECT gen_random_uuid(), '{project}', g, 'task ' || g, (ARRAY[{ids}])[1 + g % 5], 'medium', 'task', \
                chr(96 + length(g::text)) || g::text, now(), now(), CASE WHEN g % 10 = 0 THEN now() END \
         FROM generate_series(1, {TASKS}) g",
        ids = ids.join(", ")
    ))
    .await?;
    // Set the visibility map, as autovacuum would, so the recount can read the index alone.
    db.execute("VACUUM ANALYZE tasks").await?;
    println!("seeded {TASKS} tasks in {:?}", seeded.elapsed());

    let mut timings = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let (counts, statements) = count_statements(db.store.recount(project)).await;
        timings.push(started.elapsed());
        let counts = counts?;
        assert_eq!(statements, 1);
        assert_eq!(counts.total, (TASKS - TASKS / 10) as u64);
    }
    timings.sort();
    println!(
        "recount of {TASKS} tasks (90% live), 1 statement: min {:?}, median {:?}, max {:?}",
        timings[0],
        timings[timings.len() / 2],
        timings[timings.len() - 1]
    );
    Ok(())
}
