//! A board in memory, with no database and no server: two people, a project, a few tasks moved
//! across the board; then the project's aggregation and derived status, the board, and every
//! event the domain published, in `seq` order.
//!
//! Run it with `cargo run -p tasklane-memory --example board`.

#![allow(
    clippy::print_stdout,
    reason = "what it prints is this program's output"
)]

use tasklane_domain::model::Task;
use tasklane_domain::services::projects::NewProjectInput;
use tasklane_domain::services::tasks::{MoveInput, NewTaskInput, TaskListInput};
use tasklane_domain::services::users::RegisterInput;
use tasklane_domain::values::{Role, StatusCategory};
use tasklane_memory::Memory;

fn person(name: &str) -> RegisterInput {
    RegisterInput {
        email: format!("{}@example.com", name.to_lowercase()),
        password: "correct horse battery".into(),
        display_name: name.into(),
    }
}

fn task(title: &str) -> NewTaskInput {
    NewTaskInput {
        title: title.into(),
        ..NewTaskInput::default()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let memory = Memory::new();
    let services = memory.services();

    let ada = services.sessions.register(person("Ada")).await?.user;
    let grace = services.sessions.register(person("Grace")).await?.user;
    let (ada, grace) = (ada.summary.id, grace.summary.id);

    let project = services
        .projects
        .create_project(
            ada,
            NewProjectInput {
                key: "WEB".into(),
                name: "Website".into(),
                description: Some("The new site".into()),
            },
        )
        .await?
        .project;
    services
        .members
        .add_member_by_email(ada, project.id, "grace@example.com", Role::Editor)
        .await?;
    let statuses = services.statuses.list_statuses(grace, project.id).await?;
    let status = |category: StatusCategory| {
        statuses
            .iter()
            .find(|s| s.category == category)
            .map(|s| s.id)
    };

    let design = services
        .tasks
        .create_task(ada, project.id, task("Design the home page"))
        .await?;
    let batch = services
        .tasks
        .create_batch(
            grace,
            project.id,
            vec![
                task("Write the copy"),
                task("Pick the fonts"),
                task("Ship it"),
            ],
        )
        .await?;
    let design = &design.tasks[0];
    let (copy, fonts) = (&batch.tasks[0], &batch.tasks[1]);

    let to = |category| MoveInput {
        status_id: status(category),
        ..MoveInput::default()
    };
    services
        .tasks
        .move_task(grace, design.id, to(StatusCategory::InProgress), None)
        .await?;
    services
        .tasks
        .move_task(grace, fonts.id, to(StatusCategory::Done), None)
        .await?;
    // Shipping goes to the top of the todo column, before the copy.
    let first = MoveInput {
        before_id: Some(copy.id),
        ..MoveInput::default()
    };
    let ship = &batch.tasks[2];
    services.tasks.move_task(ada, ship.id, first, None).await?;

    let aggregation = services.projects.get_aggregation(ada, project.id).await?;
    let counts = aggregation.aggregation.counts;
    println!(
        "{} — {} tasks: {} to do, {} in progress, {} in review, {} issue, {} done; status {}",
        project.key.as_str(),
        counts.total,
        counts.todo,
        counts.in_progress,
        counts.in_review,
        counts.issue,
        counts.done,
        aggregation.derived_status.as_str(),
    );

    println!("\nThe board:");
    let board = services
        .tasks
        .list_tasks(ada, project.id, TaskListInput::default())
        .await?;
    for Task {
        key, title, status, ..
    } in &board.items
    {
        println!("  {:<12} {key:<7} {}", status.name.as_str(), title.as_str());
    }

    println!("\nWhat the domain published:");
    for event in memory.published.events() {
        println!(
            "  {} #{:<2} {}",
            project.key.as_str(),
            event.seq,
            event.event.payload.name()
        );
    }
    Ok(())
}
