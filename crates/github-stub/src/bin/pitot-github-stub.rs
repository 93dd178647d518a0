//! Runs the GitHub stand-in on its own, for trying an installation without
//! a GitHub account (`docs/install.md`). It replaces GitHub's REST API only:
//! webhooks are sent by hand, and nothing here is fit for real use, because
//! the App's private key is public in this repository.

use std::net::SocketAddr;
use std::time::Duration;

use pitot_github_stub::{GitHubStub, TEST_APP_ID, TEST_INSTALLATION_ID, TEST_PERSONAL_TOKEN};
use tokio::net::TcpListener;

const USAGE: &str = "usage: pitot-github-stub [--listen HOST:PORT]   (default 127.0.0.1:9000)";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let address = match listen_address(std::env::args().skip(1).collect()) {
        Ok(address) => address,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "error: cannot listen on {address}: {error}; pass --listen with a free address"
            );
            return std::process::ExitCode::from(2);
        }
    };
    let stub = GitHubStub::start_on(listener);
    println!("GitHub stand-in listening on {}", stub.url());
    println!("  App id {TEST_APP_ID}, installation id {TEST_INSTALLATION_ID}");
    println!("  App private key: crates/github-stub/testdata/app-private-key.pem (public: for trials only)");
    println!("  personal token for reading: {TEST_PERSONAL_TOKEN}");
    println!("Each request pitot sends is printed below; Ctrl-C stops.");

    let mut printed = 0;
    let mut ticks = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = ticks.tick() => {}
        }
        let requests = stub.requests();
        for request in &requests[printed..] {
            println!("{}", request.line());
        }
        printed = requests.len();
    }
    std::process::ExitCode::SUCCESS
}

fn listen_address(args: Vec<String>) -> Result<SocketAddr, String> {
    match args.as_slice() {
        [] => Ok(SocketAddr::from(([127, 0, 0, 1], 9000))),
        [flag, value] if flag == "--listen" => value.parse().map_err(|_| {
            format!(
                "--listen {value:?} is not an address: expected HOST:PORT, such as 127.0.0.1:9000"
            )
        }),
        _ => Err(format!("unexpected arguments {args:?}")),
    }
}
