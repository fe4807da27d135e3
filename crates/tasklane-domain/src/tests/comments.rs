//! Interaction tests of the comment service with a mocked repository: who may write, edit and
//! delete, what a refusal leaves alone, and the events each write logs.

use crate::errors::{Classify, ErrorClass, TxError};
use crate::ids::{CommentId, ProjectId, TaskId, UserId};
use crate::model::{Comment, UserSummary};
use crate::ports::{CommentTarget, CommentWritten, CommentsRead};
use crate::services::comments::{AddCommentError, DeleteCommentError, EditCommentError};
use crate::tests::support::{Harness, fields, logged, now, user};
use crate::values::{CommentBody, Role};

fn comment_by(author: &UserSummary) -> Comment {
    Comment {
        id: CommentId::generate(),
        task_id: TaskId::generate(),
        project_id: ProjectId::generate(),
        author: Some(author.clone()),
        body: CommentBody::new("first words").unwrap(),
        created_at: now(),
        edited_at: None,
    }
}

fn target(role: Option<Role>, archived: bool, comment: Option<Comment>) -> CommentTarget {
    CommentTarget {
        actor_role: role,
        project_archived: archived,
        comment,
    }
}

/// A repository that decides on `target` and, when allowed, writes the comment with a count of 1.
fn repository(h: &mut Harness, target: CommentTarget, existing: Option<Comment>) {
    let (add, edit, delete) = (target.clone(), target.clone(), target);
    let (edited, deleted) = (existing.clone(), existing);
    h.comments
        .expect_add_comment()
        .returning(move |new, decide, record| {
            decide(add.clone()).map_err(TxError::Rejected)?;
            let comment = Comment {
                id: new.id,
                task_id: new.task_id,
                project_id: ProjectId::generate(),
                author: None,
                body: new.body,
                created_at: new.at,
                edited_at: None,
            };
            Ok(logged(
                CommentWritten {
                    comment,
                    comment_count: 1,
                },
                &record,
            ))
        });
    h.comments
        .expect_edit_comment()
        .returning(move |change, decide, record| {
            decide(edit.clone()).map_err(TxError::Rejected)?;
            let mut comment = edited.clone().unwrap();
            comment.body = change.body.unwrap();
            comment.edited_at = Some(change.at);
            Ok(logged(
                CommentWritten {
                    comment,
                    comment_count: 1,
                },
                &record,
            ))
        });
    h.comments
        .expect_delete_comment()
        .returning(move |_, decide, record| {
            decide(delete.clone()).map_err(TxError::Rejected)?;
            let comment = deleted.clone().unwrap();
            Ok(logged(
                CommentWritten {
                    comment,
                    comment_count: 0,
                },
                &record,
            ))
        });
}

#[tokio::test]
async fn editors_and_owners_comment_and_the_event_carries_the_new_count() {
    for role in [Role::Owner, Role::Editor] {
        let mut h = Harness::new();
        repository(&mut h, target(Some(role), false, None), None);
        let (services, recorder) = h.build();
        let actor = UserId::generate();
        let written = services
            .comments
            .add(actor, TaskId::generate(), "  LGTM \n")
            .await
            .unwrap();
        assert_eq!(written.comment.body.as_str(), "LGTM");
        assert_eq!(recorder.names(), ["comment_added"]);
        let event = &recorder.events()[0];
        assert_eq!(
            (event.actor_id, event.task_id()),
            (actor, Some(written.comment.task_id))
        );
    }
}

#[tokio::test]
async fn viewers_strangers_archived_projects_and_bad_bodies_add_nothing() {
    let cases: [(Option<Role>, bool, ErrorClass); 3] = [
        (Some(Role::Viewer), false, ErrorClass::Forbidden),
        (None, false, ErrorClass::NotFound),
        (Some(Role::Editor), true, ErrorClass::Archived),
    ];
    for (role, archived, class) in cases {
        let mut h = Harness::new();
        repository(&mut h, target(role, archived, None), None);
        let (services, recorder) = h.build();
        let error = services
            .comments
            .add(UserId::generate(), TaskId::generate(), "hello")
            .await
            .unwrap_err();
        assert_eq!(error.class(), class, "{role:?} archived={archived}");
        assert!(recorder.names().is_empty());
    }
    let mut h = Harness::new();
    h.comments.expect_add_comment().never();
    let (services, _) = h.build();
    for body in [" \n ".to_owned(), "x".repeat(10_001)] {
        let error = services
            .comments
            .add(UserId::generate(), TaskId::generate(), &body)
            .await
            .unwrap_err();
        assert!(matches!(error, AddCommentError::Invalid(_)));
        assert_eq!(error.field_errors().unwrap().errors()[0].field, "body");
    }
}

#[tokio::test]
async fn only_the_author_edits_and_only_while_they_may_comment() {
    let author = user("author");
    let comment = comment_by(&author);
    let cases = [
        (author.id, Some(Role::Editor), None),
        (
            UserId::generate(),
            Some(Role::Owner),
            Some(ErrorClass::Forbidden),
        ),
        (author.id, Some(Role::Viewer), Some(ErrorClass::Forbidden)),
        (author.id, None, Some(ErrorClass::NotFound)),
    ];
    for (actor, role, refusal) in cases {
        let mut h = Harness::new();
        repository(
            &mut h,
            target(role, false, Some(comment.clone())),
            Some(comment.clone()),
        );
        let (services, recorder) = h.build();
        let result = services
            .comments
            .edit(actor, comment.id, "second thoughts")
            .await;
        match refusal {
            None => {
                let written = result.unwrap();
                assert_eq!(written.comment.edited_at, Some(now()));
                assert_eq!(recorder.names(), ["comment_edited"]);
            }
            Some(class) => {
                assert_eq!(result.unwrap_err().class(), class, "{role:?}");
                assert!(recorder.names().is_empty());
            }
        }
    }
    let mut h = Harness::new();
    repository(
        &mut h,
        target(Some(Role::Editor), true, Some(comment.clone())),
        Some(comment.clone()),
    );
    let (services, _) = h.build();
    let error = services
        .comments
        .edit(author.id, comment.id, "late")
        .await
        .unwrap_err();
    assert!(matches!(error, EditCommentError::ProjectArchived));
}

#[tokio::test]
async fn authors_and_owners_delete_and_the_count_goes_down() {
    let author = user("author");
    let comment = comment_by(&author);
    let cases = [
        (author.id, Some(Role::Editor), None),
        (UserId::generate(), Some(Role::Owner), None),
        (
            UserId::generate(),
            Some(Role::Editor),
            Some(ErrorClass::Forbidden),
        ),
        (author.id, Some(Role::Viewer), Some(ErrorClass::Forbidden)),
        (UserId::generate(), None, Some(ErrorClass::NotFound)),
    ];
    for (actor, role, refusal) in cases {
        let mut h = Harness::new();
        repository(
            &mut h,
            target(role, false, Some(comment.clone())),
            Some(comment.clone()),
        );
        let (services, recorder) = h.build();
        let result = services.comments.delete(actor, comment.id).await;
        match refusal {
            None => {
                result.unwrap();
                assert_eq!(recorder.names(), ["comment_deleted"]);
            }
            Some(class) => {
                assert_eq!(result.unwrap_err().class(), class, "{role:?}");
                assert!(recorder.names().is_empty());
            }
        }
    }
    let mut h = Harness::new();
    repository(&mut h, target(Some(Role::Owner), false, None), None);
    let (services, _) = h.build();
    let error = services
        .comments
        .delete(author.id, CommentId::generate())
        .await
        .unwrap_err();
    assert!(
        matches!(error, DeleteCommentError::Access(_)),
        "unknown comment"
    );
    assert_eq!(error.class(), ErrorClass::NotFound);
}

#[tokio::test]
async fn listing_pages_by_cursor_and_hides_comments_from_strangers() {
    let author = user("author");
    let page: Vec<Comment> = (0..3).map(|_| comment_by(&author)).collect();
    let mut h = Harness::new();
    let rows = page.clone();
    h.comments
        .expect_list_comments()
        .withf(|q| q.limit == 3 && q.after.is_none())
        .returning(move |_| {
            Ok(CommentsRead {
                viewer_role: Some(Role::Viewer),
                comments: rows.clone(),
            })
        });
    h.comments
        .expect_list_comments()
        .withf(|q| q.limit == 3 && q.after.is_some())
        .returning(|_| {
            Ok(CommentsRead {
                viewer_role: None,
                comments: Vec::new(),
            })
        });
    let (services, _) = h.build();
    let task = TaskId::generate();
    let first = services
        .comments
        .list(UserId::generate(), task, None, Some(2))
        .await
        .unwrap();
    assert_eq!(first.items, page[..2]);
    let cursor = first.next_cursor.expect("a third comment follows");
    let stranger = services
        .comments
        .list(UserId::generate(), task, Some(&cursor), Some(2))
        .await
        .unwrap_err();
    assert_eq!(stranger.class(), ErrorClass::NotFound);
    let bad = services
        .comments
        .list(UserId::generate(), task, Some("p1.0.x"), Some(500))
        .await
        .unwrap_err();
    let fields = fields(&bad);
    assert_eq!(fields, ["limit", "cursor"]);
}
