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

        async fn ping(&self) -> Result<(), StoreError> {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        }
    }
}
