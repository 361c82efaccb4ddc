//! Change feeds: what each commit made visible, read from the store once per
//! community and shared by every connection of it.
//!
//! A commit (here, or on another replica: `crate::replicas`) only moves the
//! community's committed sequence. One task per community then reads the
//! documents changed past what it last published, in pages, and broadcasts
//! each page; every sync connection filters a page in memory by its reader's
//! scope. However many devices are connected, a commit costs one query.
//!
//! # Invariants
//! - Pages chain: each page's `after` is the `upto` of the page before it, so
//!   a connection that saw every page has seen every change; one that missed
//!   some (it lagged, or it had not caught up when the page was read) sees a
//!   page whose `after` is past its own position and catches up with one
//!   query of its own.
//! - A sequence is published only after its transaction committed, and
//!   sequences commit in the order they were assigned (the community row
//!   serialises writers), so a page read for `upto` holds every change up
//!   to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldsync_proto::DocType;
use fieldsync_proto::model::scope::{DocScope, Reader, may_read};
use fieldsync_proto::wire::Announce;
use tokio::sync::{broadcast, watch};

use crate::store::{DocRow, Store};

/// Documents per page, in the feed and in a connection's own catch-up.
pub const PAGE: i64 = 500;

/// Pages (and scope notices) a connection may fall behind by before it has
/// to catch up with a query of its own.
const BACKLOG: usize = 256;

/// One stored document as announced, with what decides who may read it.
#[derive(Debug)]
pub struct Entry {
    pub announce: Announce,
    pub doc_type: DocType,
    /// `None`: missing or unreadable, the office's and auditors' only.
    pub scope: Option<DocScope>,
}

impl Entry {
    /// Whether `reader` may receive it.
    pub fn readable_by(&self, reader: &Reader) -> bool {
        may_read(reader, self.doc_type, self.scope.as_ref())
    }
}

/// Stored rows as entries; a row that does not read back (an unknown type,
/// broken heads) is logged and left out.
pub fn entries(rows: Vec<DocRow>) -> Vec<Entry> {
    rows.into_iter()
        .filter_map(|row| {
            let read = row.header().and_then(|h| Ok((h, row.wire_heads()?)));
            match read {
                Ok((header, heads)) => Some(Entry {
                    doc_type: header.doc_type,
                    scope: crate::scope::parse(row.scope.as_deref()),
                    announce: Announce {
                        header,
                        heads,
                        seq: row.seq as u64,
                    },
                }),
                Err(e) => {
                    tracing::error!(doc = %row.id, error = %e, "stored document row does not read back; not announced");
                    None
                }
            }
        })
        .collect()
}

/// The documents committed after `after`, up to and including `upto`.
#[derive(Debug)]
pub struct Page {
    pub after: i64,
    pub upto: i64,
    pub entries: Vec<Entry>,
}

/// What a connection hears from its community's feed.
#[derive(Clone, Debug)]
pub enum Item {
    /// Documents were committed.
    Page(Arc<Page>),
    /// What these users may read changed (their team or grids, or their
    /// team's grid): a connection of theirs reloads its reader.
    Readers(Arc<[String]>),
}

/// The feeds of every community this process serves.
#[derive(Clone)]
pub struct Feeds {
    store: Store,
    feeds: Arc<Mutex<HashMap<String, Feed>>>,
}

#[derive(Clone)]
struct Feed {
    committed: watch::Sender<i64>,
    items: broadcast::Sender<Item>,
}

impl Feeds {
    pub fn new(store: Store) -> Feeds {
        Feeds {
            store,
            feeds: Arc::default(),
        }
    }

    /// The community's feed; its reading task starts with it.
    fn feed(&self, community: &str) -> Feed {
        let mut feeds = self.feeds.lock().expect("feed lock poisoned");
        if let Some(feed) = feeds.get(community) {
            return feed.clone();
        }
        let feed = Feed {
            committed: watch::channel(0).0,
            items: broadcast::channel(BACKLOG).0,
        };
        tokio::spawn(read_pages(
            self.store.clone(),
            community.to_owned(),
            feed.committed.subscribe(),
            feed.items.clone(),
        ));
        feeds.insert(community.to_owned(), feed.clone());
        feed
    }

    /// Communities with a feed in this process.
    pub fn communities(&self) -> Vec<String> {
        let feeds = self.feeds.lock().expect("feed lock poisoned");
        feeds.keys().cloned().collect()
    }

    /// Items queued in every feed for its slowest connection.
    pub fn backlog(&self) -> usize {
        let feeds = self.feeds.lock().expect("feed lock poisoned");
        feeds.values().map(|f| f.items.len()).sum()
    }

    /// Records that changes of `community` up to `seq` are committed.
    pub fn committed(&self, community: &str, seq: i64) {
        self.feed(community).committed.send_if_modified(|cur| {
            let newer = seq > *cur;
            if newer {
                *cur = seq;
            }
            newer
        });
    }

    /// Tells the connections of `users` that their read scope changed.
    pub fn readers_changed(&self, community: &str, users: Vec<String>) {
        if !users.is_empty() {
            let _ = self.feed(community).items.send(Item::Readers(users.into()));
        }
    }

    /// The pages and scope notices of `community` from now on.
    pub fn subscribe(&self, community: &str) -> broadcast::Receiver<Item> {
        self.feed(community).items.subscribe()
    }

    /// Watches the community's latest committed sequence.
    pub fn watch(&self, community: &str) -> watch::Receiver<i64> {
        self.feed(community).committed.subscribe()
    }
}

/// The reading task of one community: a page for whatever was committed
/// since the last one, until the feed is dropped.
async fn read_pages(
    store: Store,
    community: String,
    mut committed: watch::Receiver<i64>,
    items: broadcast::Sender<Item>,
) {
    let mut published = loop {
        match store.community_seq(&community).await {
            Ok(seq) => break seq,
            Err(e) => {
                tracing::warn!(%community, error = %e, "change feed cannot read the sequence; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    loop {
        let target = *committed.borrow_and_update();
        while published < target {
            match store.changed_since(&community, published, PAGE).await {
                Ok(rows) => {
                    let full = rows.len() as i64 == PAGE;
                    let last = rows.last().map_or(published, |r| r.seq);
                    // A page that is not full holds everything committed up
                    // to `target`: the sequences of it not found were
                    // conflicts, or documents written again since.
                    let upto = if full { last } else { last.max(target) };
                    let page = Page {
                        after: published,
                        upto,
                        entries: entries(rows),
                    };
                    let _ = items.send(Item::Page(Arc::new(page)));
                    crate::metrics::METRICS.feed_pages.inc();
                    published = upto;
                }
                Err(e) => {
                    tracing::warn!(%community, error = %e, "change feed cannot read; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        if committed.changed().await.is_err() {
            return;
        }
    }
}
