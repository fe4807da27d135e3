//! A project's aggregation: reading it with its derived status, and the owners' recount that
//! repairs drift.

use super::*;

impl ProjectService {
    /// The project's aggregation and derived status.
    ///
    /// # Errors
    /// As [`ProjectService::get_project`].
    pub async fn get_aggregation(
        &self,
        actor: UserId,
        project_id: ProjectId,
    ) -> Result<AggregationView, GetProjectError> {
        let view = self.get_project(actor, project_id).await?;
        Ok(AggregationView {
            aggregation: view.project.aggregation,
            derived_status: view.derived_status,
        })
    }

    /// Recomputes the aggregation from the tasks and repairs the row (owners).
    ///
    /// # Errors
    /// [`RecountError`]: not found, forbidden, store failure.
    #[tracing::instrument(skip_all, fields(%actor, %project_id))]
    pub async fn recount(
        &self,
        actor: UserId,
        project_id: ProjectId,
    ) -> Result<Recount, RecountError> {
        {
            let read = self.ports.projects.get_project(project_id, actor).await?;
            let read = read.ok_or(AccessDenied::NotFound)?;
            authorize(read.role, Action::RecountAggregation)?;
            let at = self.ports.clock.now();
            let policy = self.settings.derivation_policy;
            let events = record(&self.ports.encoder, move |repair: &AggregationRepair| {
                repair
                    .before
                    .and_then(|before| {
                        let change = AggregationChange {
                            before,
                            after: repair.after.counts,
                        };
                        status_change_event(project_id, &change, policy, actor, at)
                    })
                    .into_iter()
                    .collect()
            });
            let Logged {
                value: repair,
                events,
            } = self
                .ports
                .aggregations
                .repair_aggregation(project_id, at, events)
                .await?;
            publish(self.ports.broadcaster.as_ref(), events);
            let drift = repair.before != Some(repair.after.counts);
            if drift {
                tracing::warn!(?repair.before, after = ?repair.after.counts, "aggregation drift repaired");
            }
            Ok(Recount {
                before: repair.before,
                after: AggregationView {
                    derived_status: self.settings.derivation_policy.derive(&repair.after.counts),
                    aggregation: repair.after,
                },
                drift,
            })
        }
    }
}
