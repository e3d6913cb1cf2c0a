use super::*;

fn u(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn command(action: ServiceAction) -> ServiceCommand {
    ServiceCommand {
        app: AppId::parse("app").unwrap(),
        service: u("acme"),
        ts: 7,
        action,
    }
}

fn send(from: &str, customer: &str, cmid: &str) -> ServiceCommand {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    command(ServiceAction::Send(ServiceSend {
        customer: u(customer),
        from: u(from),
        client_msg_id: ClientMsgId::parse(cmid).unwrap(),
        body: Body::Text { text: "hi".into() },
        msg_id: MessageId::parse(format!("0190a6e4-8c1e-7c3a-9f00-{n:012x}")).unwrap(),
        limits: BodyLimits::default(),
    }))
}

fn run(state: &mut ServiceState, c: &ServiceCommand) -> Result<Vec<Event>, DomainError> {
    let events = state.decide(c)?;
    events.iter().for_each(|e| state.apply(e));
    Ok(events)
}

fn changes(events: &[Event]) -> Vec<(String, SessionChange)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ServiceSessionChanged(s) => Some((s.customer.to_string(), s.change.clone())),
            _ => None,
        })
        .collect()
}

fn opened(strategy: Strategy, agents: &[(&str, u32)]) -> ServiceState {
    let mut state = ServiceState::default();
    run(&mut state, &command(ServiceAction::Open { strategy })).unwrap();
    for (agent, capacity) in agents {
        let attach = ServiceAction::Attach {
            agent: u(agent),
            capacity: *capacity,
        };
        run(&mut state, &command(attach)).unwrap();
    }
    state
}

#[test]
fn a_full_service_queues_and_a_freed_seat_takes_the_next_in_line() {
    let mut state = opened(Strategy::LeastBusy, &[("a1", 1)]);
    let first = run(&mut state, &send("c1", "c1", "m1")).unwrap();
    assert_eq!(
        changes(&first),
        [("c1".into(), SessionChange::Assigned { agent: u("a1") })]
    );
    let second = run(&mut state, &send("c2", "c2", "m1")).unwrap();
    assert_eq!(
        changes(&second),
        [("c2".into(), SessionChange::Queued { position: 1 })]
    );
    assert!(matches!(&second[1], Event::ServiceMessageSent(m) if m.agent.is_none()));
    let close = ServiceAction::Close {
        by: u("a1"),
        customer: u("c1"),
    };
    let closed = run(&mut state, &command(close)).unwrap();
    assert_eq!(
        changes(&closed)[1],
        ("c2".into(), SessionChange::Assigned { agent: u("a1") })
    );
    assert!(state.queue.is_empty());
    assert_eq!(state.agents[&u("a1")].load, 1);
}

#[test]
fn only_the_holder_or_the_service_answers_and_a_retry_records_nothing() {
    let mut state = opened(Strategy::Sticky, &[("a1", 2), ("a2", 2)]);
    run(&mut state, &send("c1", "c1", "m1")).unwrap();
    assert_eq!(run(&mut state, &send("c1", "c1", "m1")), Ok(Vec::new()));
    assert!(matches!(
        state.decide(&send("a2", "c1", "r1")),
        Err(DomainError::Forbidden(_))
    ));
    assert_eq!(run(&mut state, &send("a1", "c1", "r1")).unwrap().len(), 1);
    assert_eq!(state.last_conv_seq(&u("c1")), 2);
}

#[test]
fn detaching_an_agent_requeues_its_sessions_and_a_replay_folds_the_same_state() {
    let mut state = opened(Strategy::RoundRobin, &[("a1", 1), ("a2", 1)]);
    let mut log = Vec::new();
    log.extend(run(&mut state, &send("c1", "c1", "m")).unwrap());
    log.extend(run(&mut state, &send("c2", "c2", "m")).unwrap());
    log.extend(run(&mut state, &send("c3", "c3", "m")).unwrap());
    let detach = ServiceAction::Detach { agent: u("a1") };
    let detached = run(&mut state, &command(detach)).unwrap();
    assert_eq!(
        changes(&detached),
        [
            ("c1".into(), SessionChange::Requeued { from: u("a1") }),
            ("c1".into(), SessionChange::Queued { position: 2 }),
        ]
    );
    log.extend(detached);
    let mut replayed = opened(Strategy::RoundRobin, &[("a1", 1), ("a2", 1)]);
    log.iter().for_each(|e| replayed.apply(e));
    assert_eq!(replayed, state);
}
