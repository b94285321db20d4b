//! The HTTP listeners of a process that serves the API (`gateway`, `serve`).

use anyhow::Context;

/// The public listener and, with `--ops-listen`, the operator listener: both bound before
/// anything is served, so a taken port fails the start, and both served until shutdown.
pub struct Listeners {
    public: (std::net::SocketAddr, tokio::net::TcpListener, axum::Router),
    pub ops: Option<(std::net::SocketAddr, tokio::net::TcpListener, axum::Router)>,
}

impl Listeners {
    pub async fn bind(
        listen: std::net::SocketAddr,
        app: axum::Router,
        ops: Option<(std::net::SocketAddr, axum::Router)>,
    ) -> anyhow::Result<Self> {
        let bind = |addr: std::net::SocketAddr| async move {
            tributary_gateway::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))
        };
        let public = (listen, bind(listen).await?, app);
        let ops = match ops {
            Some((addr, router)) => Some((addr, bind(addr).await?, router)),
            None => None,
        };
        Ok(Self { public, ops })
    }

    /// Serves until `shutdown` turns true, then lets requests in flight finish for at most
    /// `grace`: a slow client reading a large page, or a request stuck on the database, must
    /// not keep a terminating pod past its grace period (Kubernetes then kills it mid-write).
    pub async fn serve(
        self,
        options: tributary_gateway::ServeOptions,
        shutdown: tokio::sync::watch::Receiver<bool>,
        grace: std::time::Duration,
    ) -> anyhow::Result<()> {
        let until = |mut shutdown: tokio::sync::watch::Receiver<bool>| async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        let (_, listener, app) = self.public;
        let public = tributary_gateway::serve(listener, app, options, until(shutdown.clone()));
        let serving = async {
            match self.ops {
                Some((_, listener, app)) => {
                    let ops = tributary_gateway::serve(listener, app, options, until(shutdown.clone()));
                    tokio::try_join!(public, ops).map(|_| ())
                }
                None => public.await,
            }
        };
        let expired = async {
            until(shutdown.clone()).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = serving => served?,
            () = expired => {
                tracing::warn!("requests still in flight {grace:?} after the shutdown signal: exiting without them");
            }
        }
        Ok(())
    }
}
