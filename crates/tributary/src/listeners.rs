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

    pub async fn serve(
        self,
        options: tributary_gateway::ServeOptions,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let until = |mut shutdown: tokio::sync::watch::Receiver<bool>| async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        let (_, listener, app) = self.public;
        let public = tributary_gateway::serve(listener, app, options, until(shutdown.clone()));
        match self.ops {
            Some((_, listener, app)) => {
                let ops = tributary_gateway::serve(listener, app, options, until(shutdown));
                tokio::try_join!(public, ops)?;
            }
            None => public.await?,
        }
        Ok(())
    }
}
