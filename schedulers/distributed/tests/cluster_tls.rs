//! TLS (`tls://`): a cluster with a temporary CA computes, its workers
//! fetching from each other over TLS; clients without a certificate, or
//! with one of another CA, are refused; plain TCP against TLS (either
//! way) fails at once with an error saying so; and
//! `distributed.comm.require-encryption` refuses `tcp://`.
#![cfg(feature = "tls")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::time::Duration;

use barrow_core::ErrorKind;
use barrow_core::arg::lit;
use barrow_core::testing::functions::{add, inc};
use barrow_distributed::{
    Client, ClientOptions, LocalCluster, TemporaryCertificates, TlsRole, WorkerOptions,
};
use support::{TestCluster, within};

barrow_processes::worker_entry!();

fn tls_cluster(workers: usize) -> TestCluster {
    TestCluster::from(
        LocalCluster::new()
            .workers(workers)
            .threads_per_worker(1)
            .processes(false)
            .tls(true),
    )
}

/// The worker named `name`'s address.
fn address_of(client: &Client, name: &str) -> String {
    let info = client.scheduler_info().unwrap();
    let worker = info.workers.iter().find(|w| w.summary.name == name);
    worker.unwrap().summary.address.clone()
}

#[test]
fn a_tls_cluster_computes_with_its_workers_fetching_from_each_other() {
    within(Duration::from_secs(30), || {
        let test = tls_cluster(2);
        let client = &test.client;
        assert!(test.cluster.address().starts_with("tls://127.0.0.1:"));
        assert!(client.address().to_string().starts_with("tls://"));
        for name in ["local-0", "local-1"] {
            assert!(address_of(client, name).starts_with("tls://"), "{name}");
        }
        // One value on each worker: the sum needs both, so the worker
        // that computes it fetches the other's over a TLS connection of
        // their own; the client fetches the result from its holder.
        let a = client.scatter_to([20i64], false, &["local-0"]).unwrap();
        let b = client.scatter_to([22i64], false, &["local-1"]).unwrap();
        let sum = client
            .submit::<i64>(&add(), [(&a[0]).into(), (&b[0]).into()])
            .unwrap();
        assert_eq!(sum.result().unwrap(), 42);
        let holders = &client.who_has(std::slice::from_ref(&sum)).unwrap()[0].1;
        assert!(
            holders.iter().all(|h| h.starts_with("tls://")),
            "{holders:?}"
        );
        // A second client, with the cluster's options, works too.
        let second = test.cluster.new_client().unwrap();
        let f = second.submit::<i64>(&inc(), [lit(1i64)]).unwrap();
        assert_eq!(f.result().unwrap(), 2);
    });
}

#[test]
fn worker_processes_of_a_tls_cluster_get_their_certificates() {
    within(Duration::from_secs(60), || {
        let test = TestCluster::from(
            LocalCluster::new()
                .workers(2)
                .threads_per_worker(1)
                .tls(true),
        );
        let client = &test.client;
        let a = client.scatter_to([1i64], false, &["local-0"]).unwrap();
        let b = client.scatter_to([2i64], false, &["local-1"]).unwrap();
        let sum = client
            .submit::<i64>(&add(), [(&a[0]).into(), (&b[0]).into()])
            .unwrap();
        assert_eq!(sum.result().unwrap(), 3);
        assert!(address_of(client, "local-1").starts_with("tls://"));
    });
}

#[test]
fn a_client_without_a_certificate_or_with_another_cas_is_refused() {
    within(Duration::from_secs(30), || {
        let test = tls_cluster(1);
        let certs = test.cluster.certificates().unwrap();
        let address = test.cluster.address();
        let base = || {
            ClientOptions::new()
                .token(test.cluster.token())
                .timeout(Duration::from_secs(10))
        };

        // The cluster's CA, but no certificate: the scheduler refuses.
        let err = Client::connect_with(&address, &base().tls_ca_file(certs.ca_file())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Comm);
        let text = err.to_string();
        assert!(
            text.contains("presented no certificate")
                && text.contains("distributed.comm.tls.client.cert"),
            "{text}"
        );

        // A certificate another CA signed: refused too.
        let other = TemporaryCertificates::generate().unwrap();
        let foreign = base()
            .tls_ca_file(certs.ca_file())
            .tls_cert(other.cert(TlsRole::Client), other.key(TlsRole::Client));
        let text = Client::connect_with(&address, &foreign)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("refused this process's certificate")
                && text.contains("distributed.comm.tls.client.cert"),
            "{text}"
        );

        // Trusting another CA only: this side refuses the scheduler.
        let mistrust = base()
            .tls_ca_file(other.ca_file())
            .tls_cert(other.cert(TlsRole::Client), other.key(TlsRole::Client));
        let text = Client::connect_with(&address, &mistrust)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("its certificate is not valid for this cluster")
                && text.contains("distributed.comm.tls.ca-file"),
            "{text}"
        );

        // No CA at all: said before anything is sent.
        let text = Client::connect_with(&address, &base())
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("distributed.comm.tls.ca-file, which is not set"),
            "{text}"
        );

        // A worker with another CA's certificate cannot join.
        let worker = WorkerOptions::new(address.parse().unwrap())
            .token(test.cluster.token())
            .tls_ca_file(certs.ca_file())
            .tls_cert(other.cert(TlsRole::Worker), other.key(TlsRole::Worker));
        let text = barrow_distributed::run_worker(Some(worker))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("refused this process's certificate"),
            "{text}"
        );

        // The cluster serves on.
        let f = test.client.submit::<i64>(&inc(), [lit(41i64)]).unwrap();
        assert_eq!(f.result().unwrap(), 42);
        assert_eq!(test.client.scheduler_info().unwrap().workers.len(), 1);
    });
}

#[test]
fn plain_tcp_against_tls_fails_at_once_either_way() {
    // Far below the connect timeout: neither side waits for the other.
    within(Duration::from_secs(30), || {
        let test = tls_cluster(1);
        let certs = test.cluster.certificates().unwrap();
        let tls_address = test.cluster.address();
        let plain_address = tls_address.replacen("tls://", "tcp://", 1);
        let slow = Duration::from_secs(3600);

        // A plain client of the TLS scheduler is told to use TLS.
        let options = ClientOptions::new()
            .token(test.cluster.token())
            .timeout(slow);
        let text = Client::connect_with(&plain_address, &options)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("takes only TLS connections") && text.contains(&tls_address),
            "{text}"
        );

        // A plain worker too.
        let worker = WorkerOptions::new(plain_address.parse().unwrap()).token(test.cluster.token());
        let text = barrow_distributed::run_worker(Some(worker))
            .unwrap_err()
            .to_string();
        assert!(text.contains("takes only TLS connections"), "{text}");

        // A TLS client of a plain scheduler learns it does not speak TLS.
        let plain = TestCluster::new(1, 1);
        let address = plain.cluster.address().replacen("tcp://", "tls://", 1);
        let options = ClientOptions::new()
            .token(plain.cluster.token())
            .timeout(slow)
            .tls_ca_file(certs.ca_file())
            .tls_cert(certs.cert(TlsRole::Client), certs.key(TlsRole::Client));
        let err = Client::connect_with(&address, &options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Comm);
        assert!(err.to_string().contains("does not speak TLS"), "{err}");

        // Both clusters serve on.
        let f = test.client.submit::<i64>(&inc(), [lit(1i64)]).unwrap();
        assert_eq!(f.result().unwrap(), 2);
        let g = plain.client.submit::<i64>(&inc(), [lit(2i64)]).unwrap();
        assert_eq!(g.result().unwrap(), 3);
    });
}

#[test]
fn require_encryption_refuses_tcp_and_names_the_key() {
    within(Duration::from_secs(30), || {
        let _scoped =
            barrow_config::scoped([("distributed.comm.require-encryption", true)]).unwrap();
        // Connecting: refused before any connection is tried.
        let options = ClientOptions::new()
            .token("t")
            .timeout(Duration::from_secs(3600));
        let err = Client::connect_with("tcp://127.0.0.1:9", &options).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cannot connect to tcp://127.0.0.1:9")
                && text.contains("distributed.comm.require-encryption is true"),
            "{text}"
        );
        // Listening without a certificate.
        let config = barrow_core::config::snapshot().unwrap();
        let err =
            barrow_distributed::SchedulerServer::start("127.0.0.1", 0, "t", &config).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cannot listen on tcp://127.0.0.1:0")
                && text.contains("distributed.comm.require-encryption is true")
                && text.contains("distributed.comm.tls.scheduler.cert"),
            "{text}"
        );
        // A LocalCluster makes itself certificates.
        let cluster = LocalCluster::new()
            .workers(1)
            .processes(false)
            .config(config)
            .start()
            .unwrap();
        assert!(cluster.address().starts_with("tls://"));
        let f = cluster
            .client()
            .unwrap()
            .submit::<i64>(&inc(), [lit(1i64)])
            .unwrap();
        assert_eq!(f.result().unwrap(), 2);
    });
}
