//! Crawl positions for each pagination kind, and the `Link` header.

use crate::dropshipper::Cursor;
use crate::error::{Error, ErrorKind};

use super::spec::Pagination;

/// Where a crawl stands, decoded from its [`Cursor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// Page number.
    Page(u64),
    /// Item offset.
    Offset(u64),
    /// The supplier's cursor (empty on the first page).
    Token(String),
    /// The next URL from a `Link` header; `None` on the first page.
    Url(Option<String>),
}

impl Position {
    /// The position a cursor stands for (the first page when `None`).
    pub fn decode(p: &Pagination, cursor: Option<&Cursor>) -> Result<Position, Error> {
        let bad = || {
            Error::new(
                ErrorKind::Invalid,
                "this cursor does not belong to this supplier's crawl",
            )
        };
        Ok(match (p, cursor) {
            (Pagination::Page { first_page, .. }, None) => Position::Page(*first_page),
            (Pagination::Page { .. }, Some(c)) => {
                Position::Page(c.as_str().parse().map_err(|_| bad())?)
            }
            (Pagination::Offset { .. }, None) => Position::Offset(0),
            (Pagination::Offset { .. }, Some(c)) => {
                Position::Offset(c.as_str().parse().map_err(|_| bad())?)
            }
            (Pagination::Cursor { .. }, c) => {
                Position::Token(c.map(|c| c.as_str().to_string()).unwrap_or_default())
            }
            (Pagination::LinkHeader, c) => Position::Url(c.map(|c| c.as_str().to_string())),
            (Pagination::None, None) => Position::Url(None),
            (Pagination::None, Some(_)) => return Err(bad()),
        })
    }

    /// The cursor for this position.
    pub fn encode(&self) -> Option<Cursor> {
        match self {
            Position::Page(n) | Position::Offset(n) => Some(Cursor::new(n.to_string())),
            Position::Token(t) => Some(Cursor::new(t.clone())),
            Position::Url(u) => u.clone().map(Cursor::new),
        }
    }
}

/// The next page's position, or `None` when this was the last. `items` is how many items this
/// page held; `total` the supplier's total count, when it gave one.
pub fn next_position(
    p: &Pagination,
    at: &Position,
    items: usize,
    total: Option<u64>,
    next_token: Option<String>,
    next_link: Option<String>,
) -> Option<Position> {
    let items = items as u64;
    match (p, at) {
        (
            Pagination::Page {
                page_size,
                first_page,
                ..
            },
            Position::Page(n),
        ) => {
            let seen = (n.saturating_sub(*first_page) + 1).saturating_mul(*page_size);
            let more = items > 0 && items >= *page_size && total.is_none_or(|t| seen < t);
            more.then(|| Position::Page(n + 1))
        }
        (Pagination::Offset { limit, .. }, Position::Offset(o)) => {
            let seen = o.saturating_add(items);
            let more = items > 0 && items >= *limit && total.is_none_or(|t| seen < t);
            more.then_some(Position::Offset(seen))
        }
        (Pagination::Cursor { .. }, _) => next_token.filter(|t| !t.is_empty()).map(Position::Token),
        (Pagination::LinkHeader, _) => next_link.map(|u| Position::Url(Some(u))),
        _ => None,
    }
}

/// The `rel="next"` target of a `Link` header (RFC 8288), if any.
///
/// ```
/// use dropship::adapters::rest::paging::next_link;
/// let h = r#"<https://x.test/p?page_info=abc>; rel="next", <https://x.test/p?page_info=z>; rel="previous""#;
/// assert_eq!(next_link(h).as_deref(), Some("https://x.test/p?page_info=abc"));
/// ```
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            p.trim()
                .strip_prefix("rel=")
                .map(|v| {
                    v.trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
                .unwrap_or(false)
        });
        is_next.then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(size: u64) -> Pagination {
        Pagination::Page {
            page_size: size,
            first_page: 1,
            total: None,
        }
    }

    #[test]
    fn page_numbers_stop_on_short_empty_or_total() {
        let p = page(10);
        let at = Position::Page(1);
        assert_eq!(
            next_position(&p, &at, 10, None, None, None),
            Some(Position::Page(2))
        );
        assert_eq!(next_position(&p, &at, 7, None, None, None), None);
        assert_eq!(next_position(&p, &at, 0, None, None, None), None);
        assert_eq!(
            next_position(&p, &Position::Page(5), 10, Some(50), None, None),
            None
        );
        assert_eq!(
            next_position(&p, &Position::Page(4), 10, Some(50), None, None),
            Some(Position::Page(5))
        );
    }

    #[test]
    fn offsets_cursors_and_links() {
        let p = Pagination::Offset {
            limit: 20,
            total: Some("/total".into()),
        };
        assert_eq!(
            next_position(&p, &Position::Offset(20), 20, Some(45), None, None),
            Some(Position::Offset(40))
        );
        assert_eq!(
            next_position(&p, &Position::Offset(40), 5, Some(45), None, None),
            None
        );
        let c = Pagination::Cursor {
            next: "/next".into(),
        };
        assert_eq!(
            next_position(
                &c,
                &Position::Token(String::new()),
                3,
                None,
                Some("abc".into()),
                None
            ),
            Some(Position::Token("abc".into()))
        );
        assert_eq!(
            next_position(
                &c,
                &Position::Token("abc".into()),
                3,
                None,
                Some(String::new()),
                None
            ),
            None
        );
        assert_eq!(next_link(r#"<https://a/x>; rel="previous""#), None);
        assert_eq!(
            next_link(r#"<https://a/x>; rel=next"#).as_deref(),
            Some("https://a/x")
        );
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let p = page(10);
        assert_eq!(Position::decode(&p, None).unwrap(), Position::Page(1));
        let c = Position::Page(3).encode().unwrap();
        assert_eq!(Position::decode(&p, Some(&c)).unwrap(), Position::Page(3));
        assert!(Position::decode(&p, Some(&Cursor::new("abc"))).is_err());
    }
}
