//! Crawls: reading a supplier's whole catalog (or its tracked SKUs), merging page by page,
//! reconciling against webhooks, and tracking the supplier's health.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::feed::Change;
use super::inventory::{InventorySync, Member, age, lock};
use super::reconcile::{Discrepancy, judge};
use super::store::{Merge, Source, StoredLevel};
use super::view::CrawlReport;
use crate::dropshipper::{DropshipperExt, ItemProblem};
use crate::error::{Error, ErrorKind, Operation, Result};
use crate::model::{Sku, StockLevel, SupplierId};

/// Recent discrepancies kept for [`InventorySync::discrepancies`].
pub(crate) const RECENT_DISCREPANCIES: usize = 1000;
/// SKUs per stock query when a supplier has no crawl and says no batch size.
const DEFAULT_REFRESH_BATCH: usize = 50;

impl InventorySync {
    /// Crawls one supplier now: every page of its catalog (or, for a supplier without a
    /// crawl, a stock query for every SKU tracked or watched for it), merged page by page and
    /// reconciled against what webhooks had said.
    ///
    /// On failure the pages already read stay merged (they are real observations), the
    /// supplier's health records the error, and once it is past its maximum age the feed
    /// announces it stale.
    pub async fn crawl(&self, supplier: &SupplierId) -> Result<CrawlReport> {
        let member = self.member_or_err(supplier)?;
        let started = Instant::now();
        let started_at = self.now();
        lock(&member.health).last_attempt = Some(started_at);
        let mut report = CrawlReport {
            supplier: member.id.clone(),
            pages: 0,
            levels: 0,
            changed: 0,
            stale: 0,
            problems: Vec::new(),
            not_found: Vec::new(),
            discrepancies: Vec::new(),
            unlisted: Vec::new(),
            elapsed: Duration::ZERO,
        };
        let caps = member.handle.capabilities();
        let outcome = if caps.stock_crawl {
            self.crawl_pages(member, &mut report).await
        } else if caps.stock_by_sku {
            let batch = caps
                .max_skus_per_request
                .unwrap_or(DEFAULT_REFRESH_BATCH)
                .max(1);
            self.refresh_tracked(member, batch, &mut report).await
        } else {
            Err(Error::new(
                ErrorKind::Unsupported,
                "the supplier offers neither a stock crawl nor stock by SKU",
            )
            .with_supplier(member.id.clone())
            .with_operation(Operation::CrawlStock))
        };
        report.elapsed = started.elapsed();
        let finished_at = self.now();
        match outcome {
            Ok(seen) => {
                if caps.stock_crawl {
                    self.mark_unlisted(member, &seen, &mut report);
                }
                let recovered = {
                    let mut health = lock(&member.health);
                    health.last_success = Some(finished_at);
                    health.last_error = None;
                    health.consecutive_failures = 0;
                    health.counts.crawls += 1;
                    std::mem::replace(&mut health.announced_stale, false)
                };
                if recovered {
                    let _ = self.shared.feed.send(Change::SupplierRecovered {
                        supplier: member.id.clone(),
                    });
                }
                Ok(report)
            }
            Err(err) => {
                {
                    let mut health = lock(&member.health);
                    health.last_error = Some((err.kind(), err.to_string(), finished_at));
                    health.consecutive_failures = health.consecutive_failures.saturating_add(1);
                }
                self.check_stale(member);
                Err(err)
            }
        }
    }

    /// Crawls every supplier in turn; one result per supplier.
    pub async fn crawl_all(&self) -> Vec<(SupplierId, Result<CrawlReport>)> {
        let mut out = Vec::with_capacity(self.shared.suppliers.len());
        for m in &self.shared.suppliers {
            out.push((m.id.clone(), self.crawl(&m.id).await));
        }
        out
    }

    async fn crawl_pages(
        &self,
        member: &Member,
        report: &mut CrawlReport,
    ) -> Result<HashSet<(Sku, Option<String>)>> {
        let mut seen = HashSet::new();
        let mut pages = member.handle.crawl_stock();
        while let Some(page) = pages.next().await {
            let page = page?;
            report.pages += 1;
            self.merge_polled(member, &page.items, report, &mut seen);
            report.problems.extend(page.problems);
        }
        Ok(seen)
    }

    async fn refresh_tracked(
        &self,
        member: &Member,
        batch: usize,
        report: &mut CrawlReport,
    ) -> Result<HashSet<(Sku, Option<String>)>> {
        let mut skus: Vec<Sku> = {
            let store = self.read_store();
            store
                .of_supplier(&member.id)
                .into_iter()
                .map(|l| l.sku)
                .collect()
        };
        skus.extend(member.watch.iter().cloned());
        skus.sort();
        skus.dedup();
        let mut seen = HashSet::new();
        for chunk in skus.chunks(batch) {
            let answer = member.handle.stock(chunk).await?;
            report.pages += 1;
            self.merge_polled(member, &answer.levels, report, &mut seen);
            report.problems.extend(answer.problems);
            report.not_found.extend(answer.not_found);
        }
        Ok(seen)
    }

    fn merge_polled(
        &self,
        member: &Member,
        levels: &[StockLevel],
        report: &mut CrawlReport,
        seen: &mut HashSet<(Sku, Option<String>)>,
    ) {
        let now = self.now();
        let mut found = Vec::new();
        {
            let mut store = self.write_store();
            let mut health = lock(&member.health);
            for level in levels {
                // A crawl speaks for its own supplier only, whatever an adapter put in the level.
                if level.supplier != member.id {
                    report.problems.push(ItemProblem {
                        raw_id: Some(level.supplier_sku.as_str().to_owned()),
                        error: Error::new(
                            ErrorKind::Protocol,
                            format!(
                                "a crawl of {} returned stock labelled {}",
                                member.id, level.supplier
                            ),
                        )
                        .with_supplier(member.id.clone()),
                    });
                    continue;
                }
                report.levels += 1;
                seen.insert((level.sku.clone(), level.warehouse.clone()));
                let merge = store.apply(level, Source::Poll, now);
                if merge.changed() {
                    report.changed += 1;
                }
                if matches!(merge, Merge::Stale { .. }) {
                    report.stale += 1;
                }
                let verdict = judge(merge, member.webhooks);
                health.counts.count_poll(merge, verdict.map(|v| v.1));
                self.announce(level, merge, Source::Poll);
                if let Some((expected, wrong_path)) = verdict {
                    found.push(Discrepancy {
                        supplier: member.id.clone(),
                        sku: level.sku.clone(),
                        warehouse: level.warehouse.clone(),
                        expected,
                        observed: level.available,
                        wrong_path,
                        detected_at: now,
                    });
                }
            }
        }
        if found.is_empty() {
            return;
        }
        {
            let mut recent = lock(&self.shared.recent);
            for d in &found {
                if recent.len() == RECENT_DISCREPANCIES {
                    recent.pop_front();
                }
                recent.push_back(d.clone());
            }
        }
        for d in &found {
            tracing::info!(
                supplier = %d.supplier,
                sku = %d.sku,
                wrong_path = ?d.wrong_path,
                "stock discrepancy between webhook and crawl"
            );
            let _ = self.shared.feed.send(Change::Discrepancy(d.clone()));
        }
        report.discrepancies.extend(found);
    }

    fn mark_unlisted(
        &self,
        member: &Member,
        seen: &HashSet<(Sku, Option<String>)>,
        report: &mut CrawlReport,
    ) {
        let missing: Vec<StoredLevel> = self
            .read_store()
            .of_supplier(&member.id)
            .into_iter()
            .filter(|l| !seen.contains(&(l.sku.clone(), l.warehouse.clone())))
            .collect();
        if missing.is_empty() {
            return;
        }
        lock(&member.health).counts.unlisted += missing.len() as u64;
        for l in missing {
            let _ = self.shared.feed.send(Change::Unlisted {
                supplier: l.supplier.clone(),
                sku: l.sku.clone(),
                warehouse: l.warehouse.clone(),
            });
            report.unlisted.push((l.sku, l.warehouse));
        }
    }

    /// Announces a supplier stale once it passes its maximum age without a success.
    pub(crate) fn check_stale(&self, member: &Member) {
        let now = self.now();
        let announce = {
            let mut health = lock(&member.health);
            let past = match health.last_success {
                Some(t) => age(now, t) > member.max_age,
                None => true,
            };
            if past && !health.announced_stale {
                health.announced_stale = true;
                Some((health.last_success, health.last_error.as_ref().map(|e| e.0)))
            } else {
                None
            }
        };
        if let Some((last_success, last_error)) = announce {
            tracing::warn!(supplier = %member.id, "supplier stock is stale");
            let _ = self.shared.feed.send(Change::SupplierStale {
                supplier: member.id.clone(),
                last_success,
                last_error,
            });
        }
    }
}
