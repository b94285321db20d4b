//! `StoreError::kind` on errors real databases raise: the classification must recognise each
//! backend's errors as they arrive from the driver, not only the codes in its tables.

use tributary_store::{StoreError, StoreErrorKind, testing};

fn kind(result: Result<impl std::fmt::Debug, sqlx::Error>) -> StoreErrorKind {
    StoreError::from(result.expect_err("the statement must fail")).kind()
}

#[tokio::test]
async fn postgres_errors_by_kind() {
    let Some((store, _db)) = testing::pg_store_concrete_or_skip().await else {
        return;
    };
    let pool = store.pool();

    let bad_number = sqlx::query("SELECT 'twelve'::int").execute(pool).await;
    assert_eq!(kind(bad_number), StoreErrorKind::BadValue);
    let bad_encoding = sqlx::query("SELECT convert_from('\\xff'::bytea, 'UTF8')")
        .execute(pool)
        .await;
    assert_eq!(kind(bad_encoding), StoreErrorKind::BadValue);

    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('statement_timeout', '50', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let slow = sqlx::query("SELECT pg_sleep(2)").execute(&mut *tx).await;
    assert_eq!(kind(slow), StoreErrorKind::StatementTimeout);
    drop(tx);

    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("CREATE TEMP TABLE once (id int PRIMARY KEY)")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO once VALUES (1)")
        .execute(&mut *conn)
        .await
        .unwrap();
    let twice = sqlx::query("INSERT INTO once VALUES (1)").execute(&mut *conn).await;
    assert_eq!(kind(twice), StoreErrorKind::Conflict);
    let syntax = sqlx::query("SELEC 1").execute(&mut *conn).await;
    assert_eq!(kind(syntax), StoreErrorKind::Internal);
    drop(conn);

    pool.close().await;
    let closed = sqlx::query("SELECT 1").execute(pool).await;
    assert_eq!(kind(closed), StoreErrorKind::Unavailable);
}

#[tokio::test]
async fn sqlite_errors_by_kind() {
    let (store, _file) = testing::fresh_sqlite_store_concrete().await.expect("fresh SQLite file");
    let pool = store.pool();
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("CREATE TEMP TABLE once (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO once VALUES (1, 'a')")
        .execute(&mut *conn)
        .await
        .unwrap();
    let same_key = sqlx::query("INSERT INTO once VALUES (1, 'b')")
        .execute(&mut *conn)
        .await;
    assert_eq!(kind(same_key), StoreErrorKind::Conflict);
    let same_name = sqlx::query("INSERT INTO once VALUES (2, 'a')")
        .execute(&mut *conn)
        .await;
    assert_eq!(kind(same_name), StoreErrorKind::Conflict);
    // A rowid alias takes integers only: SQLITE_MISMATCH.
    let not_a_number = sqlx::query("INSERT INTO once VALUES ('twelve', 'c')")
        .execute(&mut *conn)
        .await;
    assert_eq!(kind(not_a_number), StoreErrorKind::BadValue);
    let syntax = sqlx::query("SELEC 1").execute(&mut *conn).await;
    assert_eq!(kind(syntax), StoreErrorKind::Internal);
}
