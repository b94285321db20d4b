//! The deployment package, run as processes. No Kubernetes cluster or container runtime runs on
//! the CI machines, so every role of the rendered production overlay (`k8s/`, rendered by
//! `deploy/validate` into `target/deploy/production.json`) and of `deploy/compose.yaml`
//! (`target/deploy/compose.json`) is started from the built binary with exactly the arguments
//! and environment the manifests give its containers, init containers first and all replicas'
//! at once, against real Postgres and Redis on a fresh, empty database. Then the fleet must do
//! what the manifests promise: every probe and health check answers where it is declared, the
//! Services reach what they name (the public one has no operator API), the ServiceMonitor's
//! endpoints serve metrics on every role, the Redis keys the KEDA ScaledObject counts hold the
//! queued jobs, an integration connected through the CLI is synced by scheduler and workers and
//! read through the gateway, and SIGTERM stops each role within its grace period.
//!
//! What is substituted, and only that: the Secret's values (this test's database, Redis, keys),
//! the listening ports (free ones, rewritten wherever the manifest writes the port), the Redis
//! key prefix (each test has its own) and `HOSTNAME` (the pod name).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tributary_sim::{SimConfig, Simulator};
use tributary_store::testing::{TestDatabase, pg_database_or_skip, services_required};

use crate::support::{REDIS_URL, free_port};

/// `target/deploy/<name>.json`, written by `deploy/validate` (which `.ci/run` runs first).
fn rendered(name: &str) -> Option<Value> {
    let dir = std::env::var_os("TRIBUTARY_DEPLOY_RENDERED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/deploy"));
    let path = dir.join(format!("{name}.json"));
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))),
        Err(e) => {
            let why = format!("{} is missing ({e}); `bash deploy/validate` renders it", path.display());
            if services_required() {
                panic!("the rendered deployment is required (TRIBUTARY_REQUIRE_SERVICES): {why}");
            }
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

// ---- what the manifests say -------------------------------------------------------------------

/// One process as a manifest describes it: the arguments after the binary, the environment,
/// and the ports it listens on (container ports).
#[derive(Debug, Clone)]
struct ProcSpec {
    args: Vec<String>,
    env: BTreeMap<String, String>,
}

/// A check the orchestrator makes of a running process.
#[derive(Debug, Clone)]
enum Check {
    /// A Kubernetes httpGet probe: `what` (startup, readiness, liveness), path, container port.
    Http { what: String, path: String, port: u16 },
    /// A Compose health check: the command run inside the container (the image's binary).
    Command(Vec<String>),
}

#[derive(Debug, Clone)]
struct RoleSpec {
    name: String,
    /// Run to completion before `main` (init containers; Compose one-shots it depends on).
    init: Vec<ProcSpec>,
    main: ProcSpec,
    replicas: usize,
    /// Container ports: each replica gets free ones in their place.
    ports: Vec<u16>,
    checks: Vec<Check>,
    grace: Duration,
}

/// The values of the Secret `tributary` (and of the Compose variables) for this test.
struct Secrets {
    database_url: String,
    secret_key: String,
    admin_token: String,
    prefix: String,
    /// The Secret as a volume would show it: one file per key.
    dir: PathBuf,
}

impl Secrets {
    fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "DATABASE_URL" => self.database_url.clone(),
            "TRIBUTARY_SECRET_KEY" => self.secret_key.clone(),
            "REDIS_URL" => REDIS_URL.to_owned(),
            "TRIBUTARY_ADMIN_TOKEN" => self.admin_token.clone(),
            // The KEDA TriggerAuthentication's form of REDIS_URL.
            "REDIS_ADDRESS" => REDIS_URL.trim_start_matches("redis://").to_owned(),
            _ => return None,
        })
    }

    /// Puts this test's values where the deployment has its own, and the test's key prefix.
    fn apply(&self, env: &mut BTreeMap<String, String>) {
        for key in [
            "DATABASE_URL",
            "TRIBUTARY_SECRET_KEY",
            "REDIS_URL",
            "TRIBUTARY_ADMIN_TOKEN",
        ] {
            if env.contains_key(key) {
                env.insert(key.to_owned(), self.get(key).expect("a known key"));
            }
        }
        env.insert("TRIBUTARY_REDIS_PREFIX".into(), self.prefix.clone());
    }
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// The Kubernetes objects of a render, and the roles its Deployments run.
struct Render {
    objects: Vec<Value>,
}

impl Render {
    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects.iter().filter(move |o| o["kind"] == kind)
    }

    fn config_map(&self, name: &str) -> &Value {
        self.of_kind("ConfigMap")
            .find(|c| c["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("the render has no ConfigMap {name}"))
    }

    /// A container's environment as the kubelet builds it: envFrom in order, then env.
    fn environment(&self, container: &Value, pod_name: &str, secrets: &Secrets) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for source in container["envFrom"].as_array().into_iter().flatten() {
            if let Some(name) = source["configMapRef"]["name"].as_str() {
                for (k, v) in self.config_map(name)["data"].as_object().into_iter().flatten() {
                    env.insert(k.clone(), str_of(v));
                }
            } else if let Some(name) = source["secretRef"]["name"].as_str() {
                assert_eq!(name, "tributary", "the one Secret of the deployment");
                for key in [
                    "DATABASE_URL",
                    "TRIBUTARY_SECRET_KEY",
                    "REDIS_URL",
                    "TRIBUTARY_ADMIN_TOKEN",
                ] {
                    env.insert(key.to_owned(), secrets.get(key).expect("known"));
                }
            } else {
                panic!("an envFrom source this test does not know: {source}");
            }
        }
        for var in container["env"].as_array().into_iter().flatten() {
            let name = var["name"].as_str().expect("env name").to_owned();
            let value = if let Some(v) = var.get("value") {
                str_of(v)
            } else if let Some(r) = var["valueFrom"].get("configMapKeyRef") {
                str_of(&self.config_map(r["name"].as_str().expect("name"))["data"][r["key"].as_str().expect("key")])
            } else if let Some(r) = var["valueFrom"].get("secretKeyRef") {
                assert_eq!(r["name"], "tributary", "the one Secret of the deployment");
                secrets
                    .get(r["key"].as_str().expect("key"))
                    .unwrap_or_else(|| panic!("a Secret key this test does not know: {r}"))
            } else if let Some(r) = var["valueFrom"].get("fieldRef") {
                match r["fieldPath"].as_str() {
                    Some("metadata.name") => pod_name.to_owned(),
                    Some("metadata.namespace") => "tributary".to_owned(),
                    other => panic!("a fieldRef this test does not know: {other:?}"),
                }
            } else {
                panic!("an env source this test does not know: {var}");
            };
            env.insert(name, value);
        }
        secrets.apply(&mut env);
        env
    }

    fn proc_spec(&self, pod: &Value, container: &Value, pod_name: &str, secrets: &Secrets) -> ProcSpec {
        // The image's ENTRYPOINT is the binary: a `command` would replace it.
        assert!(
            container.get("command").is_none(),
            "container {} overrides the image's entrypoint",
            container["name"]
        );
        let mut env = self.environment(container, pod_name, secrets);
        // The Secret mounted as files: its path becomes the test's directory of those files.
        for mount in container["volumeMounts"].as_array().into_iter().flatten() {
            let volume = pod["volumes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|v| v["name"] == mount["name"])
                .unwrap_or_else(|| panic!("no volume {} for {}", mount["name"], container["name"]));
            if let Some(secret) = volume.get("secret") {
                assert_eq!(secret["secretName"], "tributary", "the one Secret of the deployment");
                let at = format!(
                    "{}/",
                    mount["mountPath"].as_str().expect("mountPath").trim_end_matches('/')
                );
                for value in env.values_mut() {
                    if let Some(file) = value.strip_prefix(&at) {
                        *value = secrets.dir.join(file).to_string_lossy().into_owned();
                    }
                }
            }
        }
        ProcSpec {
            args: container["args"].as_array().into_iter().flatten().map(str_of).collect(),
            env,
        }
    }

    fn container_port(container: &Value, port: &Value) -> u16 {
        if let Some(n) = port.as_u64() {
            return n as u16;
        }
        let name = port.as_str().expect("a port is a number or a name");
        container["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("container {} has no port named {name}", container["name"])) as u16
    }

    fn roles(&self, secrets: &Secrets) -> Vec<RoleSpec> {
        self.of_kind("Deployment")
            .map(|d| {
                let name = d["metadata"]["name"].as_str().expect("name").to_owned();
                let pod = &d["spec"]["template"]["spec"];
                let containers = pod["containers"].as_array().expect("containers");
                assert_eq!(containers.len(), 1, "{name}: one container per pod");
                let c = &containers[0];
                let pod_name = format!("{name}-0");
                let checks = ["startupProbe", "readinessProbe", "livenessProbe"]
                    .iter()
                    .map(|what| {
                        let probe = &c[*what]["httpGet"];
                        assert!(probe.is_object(), "{name}: no {what} httpGet");
                        Check::Http {
                            what: (*what).to_owned(),
                            path: probe["path"].as_str().expect("path").to_owned(),
                            port: Self::container_port(c, &probe["port"]),
                        }
                    })
                    .collect();
                RoleSpec {
                    init: pod["initContainers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|i| self.proc_spec(pod, i, &pod_name, secrets))
                        .collect(),
                    main: self.proc_spec(pod, c, &pod_name, secrets),
                    replicas: d["spec"]["replicas"].as_u64().unwrap_or(1).clamp(1, 2) as usize,
                    ports: c["ports"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| p["containerPort"].as_u64().expect("containerPort") as u16)
                        .collect(),
                    checks,
                    grace: Duration::from_secs(
                        pod["terminationGracePeriodSeconds"]
                            .as_u64()
                            .unwrap_or_else(|| panic!("{name}: no terminationGracePeriodSeconds")),
                    ),
                    name,
                }
            })
            .collect()
    }

    /// The pod template of the Deployment whose pods `selector` selects.
    fn deployment_selected(&self, selector: &Value) -> Option<&Value> {
        self.of_kind("Deployment")
            .find(|d| labels_match(selector, &d["spec"]["template"]["metadata"]["labels"]))
    }
}

// ---- running them ---------------------------------------------------------------------------

struct Running {
    role: String,
    name: String,
    child: Child,
    /// Container port → the port this process really listens on.
    ports: BTreeMap<u16, u16>,
    grace: Duration,
}

struct Fleet {
    logs: PathBuf,
    procs: Vec<Running>,
}

/// Writes the process's own ports wherever the manifest writes the container port: in an
/// address (`0.0.0.0:8080`) or a URL (`http://127.0.0.1:8080/ready`).
fn rewrite(s: &str, ports: &BTreeMap<u16, u16>) -> String {
    let mut out = s.to_owned();
    for (from, to) in ports {
        out = out.replace(&format!(":{from}/"), &format!(":{to}/"));
        if let Some(head) = out.strip_suffix(&format!(":{from}")) {
            out = format!("{head}:{to}");
        }
    }
    out
}

fn command(spec: &ProcSpec, ports: &BTreeMap<u16, u16>, hostname: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
    cmd.env_clear()
        .args(spec.args.iter().map(|a| rewrite(a, ports)))
        .envs(spec.env.iter().map(|(k, v)| (k.clone(), rewrite(v, ports))))
        .env("HOSTNAME", hostname)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

impl Fleet {
    fn new(what: &str) -> Fleet {
        let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("deploy-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&logs).expect("log dir");
        Fleet {
            logs,
            procs: Vec::new(),
        }
    }

    fn log_file(&self, name: &str) -> std::fs::File {
        std::fs::File::create(self.logs.join(format!("{name}.log"))).expect("log file")
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(&self.logs).into_iter().flatten().flatten() {
            let log = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            out.push_str(&format!("\n----- {} -----\n", entry.file_name().to_string_lossy()));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Starts every role: all replicas' init processes at once (as pods start together), each
    /// to exit 0, then the roles themselves.
    async fn start(&mut self, roles: &[RoleSpec]) {
        let mut inits = Vec::new();
        let mut pods = Vec::new();
        for role in roles {
            for replica in 0..role.replicas {
                let name = format!("{}-{replica}", role.name);
                let ports: BTreeMap<u16, u16> = role.ports.iter().map(|p| (*p, free_port())).collect();
                for (i, init) in role.init.iter().enumerate() {
                    let init_name = format!("{name}-init{i}");
                    let log = self.log_file(&init_name);
                    let child = command(init, &ports, &name)
                        .stdout(log.try_clone().expect("log"))
                        .stderr(log)
                        .spawn()
                        .expect("init process starts");
                    inits.push((init_name, child));
                }
                pods.push((role, name, ports));
            }
        }
        for (name, mut child) in inits {
            let status = tokio::time::timeout(Duration::from_secs(120), child.wait())
                .await
                .unwrap_or_else(|_| panic!("{name} did not finish within 120 s{}", self.logs()))
                .expect("wait");
            assert!(status.success(), "{name} failed ({status}){}", self.logs());
        }
        for (role, name, ports) in pods {
            let log = self.log_file(&name);
            let child = command(&role.main, &ports, &name)
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("role starts");
            self.procs.push(Running {
                role: role.name.clone(),
                name,
                child,
                ports,
                grace: role.grace,
            });
        }
    }

    /// Waits until every process passes every check its orchestrator makes.
    async fn wait_healthy(&mut self, roles: &[RoleSpec]) {
        let client = reqwest::Client::new();
        for i in 0..self.procs.len() {
            let role = roles.iter().find(|r| r.name == self.procs[i].role).expect("role");
            for check in &role.checks {
                let start = Instant::now();
                loop {
                    let ports = &self.procs[i].ports;
                    let (ok, what) = match check {
                        Check::Http { what, path, port } => {
                            let url = format!("http://127.0.0.1:{}{path}", ports[port]);
                            let ok = client
                                .get(&url)
                                .timeout(Duration::from_secs(2))
                                .send()
                                .await
                                .is_ok_and(|r| r.status().is_success());
                            (ok, format!("{what} {url}"))
                        }
                        Check::Command(argv) => {
                            // The image's binary is ours; the rest is its arguments.
                            let args: Vec<String> = argv[1..].iter().map(|a| rewrite(a, ports)).collect();
                            let ok = Command::new(env!("CARGO_BIN_EXE_tributary"))
                                .args(&args)
                                .stdout(Stdio::null())
                                .stderr(Stdio::null())
                                .status()
                                .await
                                .is_ok_and(|s| s.success());
                            (ok, format!("health check {args:?}"))
                        }
                    };
                    if ok {
                        break;
                    }
                    let name = self.procs[i].name.clone();
                    if let Some(status) = self.procs[i].child.try_wait().expect("try_wait") {
                        panic!("{name} exited ({status}) before passing its {what}{}", self.logs());
                    }
                    assert!(
                        start.elapsed() < Duration::from_secs(60),
                        "{name}: {what} not passing within 60 s{}",
                        self.logs()
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn first(&self, role: &str) -> &Running {
        self.procs
            .iter()
            .find(|p| p.role == role)
            .unwrap_or_else(|| panic!("no {role} running"))
    }

    /// SIGTERM to every process of `role`; each exits 0 within its grace period.
    async fn stop(&mut self, role: &str) {
        for p in self.procs.iter_mut().filter(|p| p.role == role) {
            let pid = p.child.id().expect("running");
            let status = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success());
        }
        let logs = self.logs();
        for p in self.procs.iter_mut().filter(|p| p.role == role) {
            let status = tokio::time::timeout(p.grace, p.child.wait())
                .await
                .unwrap_or_else(|_| panic!("{} outlived its grace period {:?} after SIGTERM{logs}", p.name, p.grace))
                .expect("wait");
            assert!(status.success(), "{} exited {status} after SIGTERM{logs}", p.name);
        }
    }
}

fn secrets(db: &TestDatabase, what: &str) -> Secrets {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("deploy-secret-{what}-{}", db.name()));
    std::fs::create_dir_all(&dir).expect("secret dir");
    let secrets = Secrets {
        database_url: db.url().to_owned(),
        secret_key: tributary_store::CredentialKey::generate().to_base64(),
        admin_token: format!("admin-{}", db.name()),
        prefix: format!("deploytest-{what}-{}", db.name()),
        dir,
    };
    // As `kubectl create secret generic --from-literal` stores them: no trailing line break.
    for key in [
        "DATABASE_URL",
        "TRIBUTARY_SECRET_KEY",
        "REDIS_URL",
        "TRIBUTARY_ADMIN_TOKEN",
        "REDIS_ADDRESS",
    ] {
        std::fs::write(secrets.dir.join(key), secrets.get(key).expect("known")).expect("secret file");
    }
    secrets
}

/// What an operator does once the fleet is up, through the CLI with the gateway's own
/// environment (`kubectl exec deploy/tributary-gateway -- tributary ...`): connects the
/// simulated Personio and makes an API key. The key.
async fn connect_personio(gateway: &ProcSpec, sim_base: &str) -> String {
    async fn run(gateway: &ProcSpec, args: Vec<String>) -> String {
        let mut spec = gateway.clone();
        spec.args = args;
        let out = command(&spec, &BTreeMap::new(), "operator")
            .output()
            .await
            .expect("cli runs");
        assert!(
            out.status.success(),
            "`tributary {:?}` failed: {}",
            spec.args,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }
    let credentials = json!({"client_id": "sim-personio-client", "client_secret": "sim-personio-secret"});
    run(
        gateway,
        vec![
            "integration".into(),
            "create".into(),
            "personio:acme".into(),
            "--base-url".into(),
            format!("{sim_base}/personio"),
            "--credentials".into(),
            credentials.to_string(),
        ],
    )
    .await;
    let out = run(gateway, vec!["api-key".into(), "create".into()]).await;
    out.trim().to_owned()
}

/// Until the gateway serves the integration's employees: the scheduler found the new
/// integration, a worker synced it, and the read API reads the mirror. How many there are.
async fn wait_for_employees(fleet: &Fleet, base: &str, api_key: &str) -> usize {
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let response = client
            .get(format!("{base}/v1/hris/employees?page_size=250"))
            .bearer_auth(api_key)
            .header("X-Integration-Id", "personio:acme")
            .send()
            .await;
        if let Ok(r) = response
            && r.status().is_success()
        {
            let body: Value = r.json().await.expect("json");
            let n = body["data"]["results"].as_array().map_or(0, Vec::len);
            if n > 0 {
                return n;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "no employees through the gateway within 180 s{}",
            fleet.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn gateway_base(fleet: &Fleet, gateway: &RoleSpec, var: &str) -> String {
    let listen = gateway
        .main
        .env
        .get(var)
        .unwrap_or_else(|| panic!("the gateway has no {var}"));
    let running = fleet.first(&gateway.name);
    let port: u16 = rewrite(listen, &running.ports)
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("an address with a port");
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_production_overlay_runs_as_its_manifests_say() {
    let Some(objects) = rendered("production") else { return };
    let render = Render {
        objects: objects.as_array().expect("an array of objects").clone(),
    };
    // A database with nothing in it, not even the schema: the deployment must make it.
    let Some(db) = pg_database_or_skip().await else { return };
    let secrets = secrets(&db, "k8s");
    let roles = render.roles(&secrets);
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    for wanted in ["tributary-gateway", "tributary-scheduler", "tributary-worker"] {
        assert!(names.contains(&wanted), "the render runs {wanted}: {names:?}");
    }
    for role in &roles {
        // Secrets reach the roles as files only, never through their environment.
        for spec in role.init.iter().chain([&role.main]) {
            for key in [
                "DATABASE_URL",
                "TRIBUTARY_SECRET_KEY",
                "REDIS_URL",
                "TRIBUTARY_ADMIN_TOKEN",
            ] {
                assert!(!spec.env.contains_key(key), "{}: {key} in the environment", role.name);
                let file = spec.env.get(&format!("{key}_FILE"));
                assert!(
                    file.is_some_and(|f| f.starts_with(&*secrets.dir.to_string_lossy())),
                    "{}: {key}_FILE names the mounted Secret: {file:?}",
                    role.name
                );
            }
        }
        // Migrations happen once, before the roles: the roles themselves only check the schema.
        assert_eq!(
            role.main.env.get("TRIBUTARY_SKIP_MIGRATIONS").map(String::as_str),
            Some("true"),
            "{}",
            role.name
        );
        assert!(
            role.init
                .iter()
                .any(|i| i.args.first().map(String::as_str) == Some("migrate")),
            "{}: an init container migrates",
            role.name
        );
        // The grace period covers the role's own shutdown bound.
        if let Some(bound) = role.main.env.get("TRIBUTARY_SHUTDOWN_TIMEOUT_SECS") {
            let bound: f64 = bound.parse().expect("seconds");
            assert!(
                role.grace.as_secs_f64() > bound,
                "{}: terminationGracePeriodSeconds {:?} must exceed the shutdown bound {bound} s",
                role.name,
                role.grace
            );
        }
    }

    let sim = Simulator::start(
        SimConfig {
            employees: 40,
            tools: vec![tributary_model::ToolKind::Personio],
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("simulator starts");
    let sim_base = sim.base_url(tributary_model::ToolKind::Personio);
    let sim_base = sim_base.strip_suffix("/personio").expect("personio path").to_owned();

    let mut fleet = Fleet::new("k8s");
    fleet.start(&roles).await;
    fleet.wait_healthy(&roles).await;

    let gateway = roles.iter().find(|r| r.name == "tributary-gateway").expect("gateway");
    let api_key = connect_personio(&gateway.main, &sim_base).await;
    let public = gateway_base(&fleet, gateway, "TRIBUTARY_LISTEN");
    let employees = wait_for_employees(&fleet, &public, &api_key).await;
    assert_eq!(employees, 40, "every simulated employee, read through the gateway");

    // The Services: each reaches the port it names, and only the operator one has /ops.
    let client = reqwest::Client::new();
    let mut reached = Vec::new();
    for service in render.of_kind("Service") {
        let name = service["metadata"]["name"].as_str().expect("name").to_owned();
        let Some(deployment) = render.deployment_selected(&service["spec"]["selector"]) else {
            panic!("Service {name} selects no Deployment's pods");
        };
        let role = deployment["metadata"]["name"].as_str().expect("name");
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        for port in service["spec"]["ports"].as_array().expect("ports") {
            let target = Render::container_port(container, port.get("targetPort").unwrap_or(&port["port"]));
            let running = fleet.first(role);
            let base = format!("http://127.0.0.1:{}", running.ports[&target]);
            let ops = client
                .get(format!("{base}/ops/v1/integrations"))
                .bearer_auth(&secrets.admin_token)
                .send()
                .await
                .expect("the Service's port answers")
                .status()
                .as_u16();
            reached.push((name.clone(), role.to_owned(), target, ops));
        }
    }
    let public_ops: Vec<_> = reached.iter().filter(|r| r.0 == "tributary-gateway").collect();
    assert!(
        !public_ops.is_empty() && public_ops.iter().all(|r| r.3 == 404),
        "the public Service has no operator API: {reached:?}"
    );
    let operator: Vec<_> = reached.iter().filter(|r| r.0 == "tributary-ops").collect();
    assert!(
        !operator.is_empty() && operator.iter().all(|r| r.3 == 200),
        "the operator Service serves /ops: {reached:?}"
    );

    // The ServiceMonitor: each endpoint of each Service it selects serves metrics.
    let monitors: Vec<&Value> = render.of_kind("ServiceMonitor").collect();
    assert!(!monitors.is_empty(), "the production overlay has a ServiceMonitor");
    let mut scraped = std::collections::BTreeSet::new();
    for monitor in monitors {
        let selector = &monitor["spec"]["selector"]["matchLabels"];
        for service in render
            .of_kind("Service")
            .filter(|s| labels_match(selector, &s["metadata"]["labels"]))
        {
            let deployment = render
                .deployment_selected(&service["spec"]["selector"])
                .expect("the Service selects pods");
            let role = deployment["metadata"]["name"].as_str().expect("name");
            let container = &deployment["spec"]["template"]["spec"]["containers"][0];
            for endpoint in monitor["spec"]["endpoints"].as_array().expect("endpoints") {
                let Some(port) = service["spec"]["ports"]
                    .as_array()
                    .expect("ports")
                    .iter()
                    .find(|p| p["name"] == endpoint["port"])
                else {
                    continue;
                };
                let target = Render::container_port(container, port.get("targetPort").unwrap_or(&port["port"]));
                for p in fleet.procs.iter().filter(|p| p.role == role) {
                    let url = format!(
                        "http://127.0.0.1:{}{}",
                        p.ports[&target],
                        endpoint["path"].as_str().unwrap_or("/metrics")
                    );
                    let body = client
                        .get(&url)
                        .send()
                        .await
                        .expect("scrape")
                        .text()
                        .await
                        .expect("text");
                    assert!(body.contains("tributary_"), "{url} serves tributary's metrics");
                    scraped.insert(role.to_owned());
                }
            }
        }
    }
    assert_eq!(
        scraped.into_iter().collect::<Vec<_>>(),
        ["tributary-gateway", "tributary-scheduler", "tributary-worker"],
        "the ServiceMonitor scrapes every role"
    );

    // KEDA counts the right keys: with the workers gone, a forced sync waits in one of them.
    let keda: Vec<&Value> = render.of_kind("ScaledObject").collect();
    assert_eq!(keda.len(), 1, "one ScaledObject (the workers)");
    let lists: Vec<String> = keda[0]["spec"]["triggers"]
        .as_array()
        .expect("triggers")
        .iter()
        .filter(|t| t["type"] == "redis")
        .map(|t| {
            let list = t["metadata"]["listName"].as_str().expect("listName");
            let rest = list.strip_prefix("tributary:").expect("keys under the default prefix");
            format!("{}:{rest}", secrets.prefix)
        })
        .collect();
    assert!(!lists.is_empty(), "the ScaledObject reads Redis lists");
    fleet.stop("tributary-worker").await;
    let forced = client
        .post(format!("{public}/v1/force-sync"))
        .bearer_auth(&api_key)
        .header("X-Integration-Id", "personio:acme")
        .json(&json!({"type": "FULL"}))
        .send()
        .await
        .expect("force-sync");
    assert!(forced.status().is_success(), "force-sync: {}", forced.status());
    let redis = redis::Client::open(REDIS_URL).expect("redis url");
    let mut conn = redis.get_multiplexed_async_connection().await.expect("redis");
    let start = Instant::now();
    loop {
        let mut depth = 0u64;
        for list in &lists {
            depth += redis::cmd("LLEN")
                .arg(list)
                .query_async::<u64>(&mut conn)
                .await
                .expect("LLEN");
        }
        if depth > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the forced sync never showed in the lists KEDA reads ({lists:?}){}",
            fleet.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    fleet.stop("tributary-scheduler").await;
    fleet.stop("tributary-gateway").await;
}

/// Compose's services as roles: `depends_on` one-shots become init processes; health checks,
/// stop grace periods and replicas as the file gives them.
fn compose_roles(compose: &Value, secrets: &Secrets) -> Vec<RoleSpec> {
    let services = compose["services"].as_object().expect("services");
    let env_of = |service: &Value| -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = service["environment"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), str_of(v)))
            .collect();
        secrets.apply(&mut env);
        env
    };
    let spec_of = |service: &Value| ProcSpec {
        args: service["command"]
            .as_array()
            .expect("command")
            .iter()
            .map(str_of)
            .collect(),
        env: env_of(service),
    };
    let grace = |service: &Value| {
        let s = service["stop_grace_period"].as_str().unwrap_or("10s");
        Duration::from_secs(s.trim_end_matches('s').parse().expect("seconds"))
    };
    let ports = |service: &Value| -> Vec<u16> {
        service["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| str_of(p).rsplit(':').next().expect("port").parse().expect("port"))
            .chain(
                // Ports the role listens on without publishing them (scrapes, health checks).
                service["environment"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| k.ends_with("LISTEN"))
                    .filter_map(|(_, v)| str_of(v).rsplit(':').next()?.parse().ok()),
            )
            .collect::<std::collections::BTreeSet<u16>>()
            .into_iter()
            .collect()
    };
    let mut roles = Vec::new();
    for name in ["sim", "gateway", "scheduler", "worker"] {
        let service = &services[name];
        assert!(service.is_object(), "compose has a {name} service");
        let init = service["depends_on"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, cond)| cond["condition"] == "service_completed_successfully")
            .map(|(dep, _)| spec_of(&services[dep]))
            .collect();
        let test = service["healthcheck"]["test"].as_array().expect("a health check");
        assert_eq!(
            test[0], "CMD",
            "{name}: exec-form health check (the image has no shell)"
        );
        assert_eq!(
            test[1], "/usr/local/bin/tributary",
            "{name}: checked by the image's binary"
        );
        roles.push(RoleSpec {
            name: name.to_owned(),
            init,
            main: spec_of(service),
            replicas: service["deploy"]["replicas"].as_u64().unwrap_or(1) as usize,
            ports: ports(service),
            checks: vec![Check::Command(test[1..].iter().map(str_of).collect())],
            grace: grace(service),
        });
    }
    roles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_file_runs_as_it_says() {
    let Some(compose) = rendered("compose") else { return };
    // A database with nothing in it, not even the schema: the deployment must make it.
    let Some(db) = pg_database_or_skip().await else { return };
    let secrets = secrets(&db, "compose");
    let roles = compose_roles(&compose, &secrets);
    let worker = roles.iter().find(|r| r.name == "worker").expect("worker");
    assert_eq!(worker.replicas, 2, "two workers");
    for role in roles.iter().filter(|r| r.name != "sim") {
        assert_eq!(
            role.main.env.get("TRIBUTARY_SKIP_MIGRATIONS").map(String::as_str),
            Some("true")
        );
        assert!(
            role.init
                .iter()
                .any(|i| i.args.first().map(String::as_str) == Some("migrate")),
            "{} waits for the migrate service",
            role.name
        );
        if let Some(bound) = role.main.env.get("TRIBUTARY_SHUTDOWN_TIMEOUT_SECS") {
            assert!(
                role.grace.as_secs_f64() > bound.parse::<f64>().expect("seconds"),
                "{}",
                role.name
            );
        }
    }

    let mut fleet = Fleet::new("compose");
    // Compose runs `migrate` once, however many services wait for it.
    let mut once = roles.clone();
    let mut seen = false;
    for role in &mut once {
        if !role.init.is_empty() {
            if seen {
                role.init.clear();
            }
            seen = true;
        }
    }
    fleet.start(&once).await;
    fleet.wait_healthy(&once).await;

    let sim = fleet.first("sim");
    let sim_port = sim.ports.values().next().expect("the simulator's port");
    let gateway = roles.iter().find(|r| r.name == "gateway").expect("gateway");
    let api_key = connect_personio(&gateway.main, &format!("http://127.0.0.1:{sim_port}")).await;
    let public = gateway_base(&fleet, gateway, "TRIBUTARY_LISTEN");
    let employees = wait_for_employees(&fleet, &public, &api_key).await;
    assert!(employees > 0);

    for role in ["worker", "scheduler", "gateway", "sim"] {
        fleet.stop(role).await;
    }
}
