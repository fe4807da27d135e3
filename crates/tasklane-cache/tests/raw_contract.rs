//! The `RawCache` contract, run on the in-memory cache and on the real Redis of
//! `TASKLANE_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`) under a unique key prefix, so
//! both backends behave the same for the typed caches above them.

// Test code: a panic is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use tasklane_cache::{MemoryCache, RawCache, RedisCache, RedisOptions};

async fn redis() -> Arc<RedisCache> {
    let url = std::env::var("TASKLANE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let options = RedisOptions {
        prefix: format!("test-{}:", uuid::Uuid::new_v4().simple()),
        ..RedisOptions::default()
    };
    let cache = RedisCache::connect(&url, options).await.unwrap();
    assert!(
        cache.is_available(),
        "no Redis at {url}: start it (see README) or set TASKLANE_TEST_REDIS_URL"
    );
    cache
}

async fn contract(cache: &dyn RawCache) {
    let ttl = Duration::from_secs(60);
    assert_eq!(cache.get("k").await.unwrap(), None);
    cache.set("k", b"one".to_vec(), ttl).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b"one".to_vec()));
    cache.set("k", b"two".to_vec(), ttl).await.unwrap();
    assert_eq!(
        cache.get("k").await.unwrap(),
        Some(b"two".to_vec()),
        "set overwrites"
    );

    assert!(!cache.set_if_absent("k", b"x".to_vec(), ttl).await.unwrap());
    assert!(
        cache
            .set_if_absent("fresh", b"y".to_vec(), ttl)
            .await
            .unwrap()
    );
    assert_eq!(cache.get("fresh").await.unwrap(), Some(b"y".to_vec()));

    assert_eq!(cache.take("k").await.unwrap(), Some(b"two".to_vec()));
    assert_eq!(cache.take("k").await.unwrap(), None, "take is single use");

    cache.delete("fresh").await.unwrap();
    cache.delete("fresh").await.unwrap();
    assert_eq!(
        cache.get("fresh").await.unwrap(),
        None,
        "delete is idempotent"
    );

    cache
        .set("short", b"z".to_vec(), Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        cache.get("short").await.unwrap(),
        None,
        "the TTL expires it"
    );
}

#[tokio::test]
async fn the_memory_cache_keeps_the_contract() {
    contract(&MemoryCache::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keeps_the_contract_under_its_prefix() {
    let cache = redis().await;
    assert!(cache.is_redis());
    contract(cache.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_use_tickets_are_taken_once_under_concurrency() {
    let cache = redis().await;
    cache
        .set("ticket", b"user".to_vec(), Duration::from_secs(30))
        .await
        .unwrap();
    let takers: Vec<_> = (0..16)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.take("ticket").await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for taker in takers {
        if taker.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "GETDEL hands a ticket to exactly one taker");
}
