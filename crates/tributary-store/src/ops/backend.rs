//! What every backend answers about itself: its name, its migrations, whether it is up.

use async_trait::async_trait;

use crate::{Backend, StoreError};

per_backend! {
    #[async_trait]
    impl Backend for Store {
        fn backend(&self) -> &'static str {
            NAME
        }

        async fn migrate(&self) -> Result<(), StoreError> {
            migrator!().run(&self.pool).await?;
            Ok(())
        }

        async fn schema_status(&self) -> Result<crate::SchemaStatus, StoreError> {
            let exists: bool = sqlx::query_scalar(MIGRATIONS_TABLE_EXISTS).fetch_one(&self.pool).await?;
            let applied: Vec<(i64, bool, Vec<u8>)> = if exists {
                sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
                    .fetch_all(&self.pool)
                    .await?
            } else {
                Vec::new()
            };
            Ok(crate::schema::compare(&migrator!(), &applied))
        }

        async fn ping(&self) -> Result<(), StoreError> {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        }
    }
}
