use super::*;

const HOUR: i64 = 3_600_000;

fn ms(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn route(posts: &[&str], from: &str, until: &str, interval_min: u32) -> RouteDoc {
    RouteDoc {
        name: "Stairwells".into(),
        team: "team-a".into(),
        posts: posts.iter().map(|p| p.to_string()).collect(),
        ordered: false,
        interval_min,
        active_from: from.into(),
        active_until: until.into(),
        grace_min: 15,
    }
}

/// Team A's roster for the week of Monday 2026-11-16, default pattern.
fn roster() -> RosterDoc {
    default_week(
        "team-a",
        "2026-11-16",
        &["leader".into()],
        &["vol-1".into(), "vol-2".into()],
        &["route-1".into()],
    )
    .unwrap()
}

fn checkin(id: &str, post: &str, at: &str, verified: bool) -> CheckinFact {
    CheckinFact {
        id: id.into(),
        post_id: post.into(),
        at_ms: ms(at),
        by: "vol-1".into(),
        verified,
    }
}

fn tz() -> TimeZone {
    time_zone(DEFAULT_TIME_ZONE).unwrap()
}

#[test]
fn the_default_week_is_weeknights_and_whole_weekend_days_in_shanghai_time() {
    let spans = roster().spans().unwrap();
    assert_eq!(spans.len(), 7);
    // Monday 18:00 CST is 10:00 UTC; it ends Tuesday 08:00 CST.
    assert_eq!(spans[0].starts_at_ms, ms("2026-11-16T10:00:00Z"));
    assert_eq!(spans[0].ends_at_ms, ms("2026-11-17T00:00:00Z"));
    assert_eq!(spans[4].ends_at_ms - spans[4].starts_at_ms, 14 * HOUR);
    // Saturday and Sunday: 24 hours from 08:00.
    assert_eq!(spans[5].starts_at_ms, ms("2026-11-21T00:00:00Z"));
    assert_eq!(spans[5].ends_at_ms - spans[5].starts_at_ms, 24 * HOUR);
    assert_eq!(spans[6].ends_at_ms, ms("2026-11-23T00:00:00Z"));
    assert!(spans[0].is_on_duty("vol-2"));
    assert!(!spans[0].is_on_duty("stranger"));
}

#[test]
fn a_post_checked_at_floor_5_but_not_floor_9_is_missed_at_9_only() {
    let span = &roster().spans().unwrap()[0];
    let r = route(&["b3-u2-f5", "b3-u2-f9"], "20:00", "02:00", 360);
    let checkins = [checkin("c1", "b3-u2-f5", "2026-11-16T13:30:00Z", true)];
    // Tuesday 03:00 CST: the window closed at 02:00 and the grace is over.
    let slots = evaluate(
        span,
        "route-1",
        &r,
        &tz(),
        &checkins,
        ms("2026-11-16T19:00:00Z"),
    )
    .unwrap();
    let statuses: Vec<_> = slots
        .iter()
        .map(|s| (s.post_id.as_str(), s.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("b3-u2-f5", SlotStatus::OnTime),
            ("b3-u2-f9", SlotStatus::Missed)
        ]
    );
    assert_eq!(slots[0].window_start_ms, ms("2026-11-16T12:00:00Z"));
    assert_eq!(slots[1].deadline_ms, ms("2026-11-16T18:00:00Z"));
    assert_eq!(slots[0].checkin_id.as_deref(), Some("c1"));
}

#[test]
fn windows_follow_the_interval_and_status_follows_the_clock() {
    let span = &roster().spans().unwrap()[0];
    let r = route(&["p5"], "20:00", "02:00", 120);
    let deadline = ms("2026-11-16T14:00:00Z"); // 22:00 CST
    let at = |now: i64| evaluate(span, "route-1", &r, &tz(), &[], now).unwrap();
    assert_eq!(at(deadline - 1).len(), 3);
    assert_eq!(at(deadline - 1)[0].status, SlotStatus::Pending);
    assert_eq!(at(deadline)[0].status, SlotStatus::Late);
    assert_eq!(at(deadline + 15 * 60_000)[0].status, SlotStatus::Missed);
    // A check-in during the grace period makes it late for good.
    let late = [checkin("c", "p5", "2026-11-16T14:05:00Z", true)];
    let slots = evaluate(span, "route-1", &r, &tz(), &late, deadline + 5 * HOUR).unwrap();
    assert_eq!(slots[0].status, SlotStatus::Late);
    assert_eq!(slots[0].checkin_id.as_deref(), Some("c"));
}

#[test]
fn proofless_check_ins_and_strangers_are_unverified() {
    let span = &roster().spans().unwrap()[0];
    let r = route(&["p5", "p9"], "20:00", "02:00", 360);
    let mut stranger = checkin("s", "p9", "2026-11-16T13:00:00Z", true);
    stranger.by = "someone-else".into();
    let checkins = [checkin("m", "p5", "2026-11-16T13:00:00Z", false), stranger];
    let slots = evaluate(
        span,
        "route-1",
        &r,
        &tz(),
        &checkins,
        ms("2026-11-17T00:00:00Z"),
    )
    .unwrap();
    assert!(
        slots.iter().all(|s| s.status == SlotStatus::Unverified),
        "{slots:?}"
    );
    // A verified one in the same window wins over a manual one.
    let both = [
        checkin("m", "p5", "2026-11-16T12:10:00Z", false),
        checkin("v", "p5", "2026-11-16T13:00:00Z", true),
    ];
    let slots = evaluate(
        span,
        "route-1",
        &r,
        &tz(),
        &both,
        ms("2026-11-17T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(slots[0].status, SlotStatus::OnTime);
    assert_eq!(slots[0].checkin_id.as_deref(), Some("v"));
}

#[test]
fn ordered_routes_flag_posts_walked_out_of_order() {
    let span = &roster().spans().unwrap()[0];
    let mut r = route(&["p5", "p9"], "20:00", "02:00", 360);
    r.ordered = true;
    let checkins = [
        checkin("a", "p9", "2026-11-16T13:00:00Z", true),
        checkin("b", "p5", "2026-11-16T13:10:00Z", true),
    ];
    let slots = evaluate(
        span,
        "route-1",
        &r,
        &tz(),
        &checkins,
        ms("2026-11-17T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(slots[0].status, SlotStatus::OnTime);
    assert_eq!(slots[1].status, SlotStatus::OutOfOrder);
}

#[test]
fn active_hours_are_placed_inside_the_shift() {
    let spans = roster().spans().unwrap();
    // 02:00–06:00 in a shift that starts at 18:00: the next morning.
    let r = route(&["p"], "02:00", "06:00", 240);
    let (from, until) = r.active_span(&spans[0], &tz()).unwrap().unwrap();
    assert_eq!(from, ms("2026-11-16T18:00:00Z"));
    assert_eq!(until, ms("2026-11-16T22:00:00Z"));
    // Equal from and until: the whole shift.
    let all = route(&["p"], "00:00", "00:00", 60);
    assert_eq!(
        all.active_span(&spans[5], &tz()).unwrap(),
        Some((spans[5].starts_at_ms, spans[5].ends_at_ms))
    );
    // 10:00–12:00 never meets a weeknight shift.
    let day = route(&["p"], "10:00", "12:00", 60);
    assert_eq!(day.active_span(&spans[0], &tz()).unwrap(), None);
}

#[test]
fn attendance_comes_from_patrols_and_check_ins() {
    let span = &roster().spans().unwrap()[0];
    let patrols = [PatrolFact {
        started_by: "vol-1".into(),
        started_at_ms: ms("2026-11-16T12:00:00Z"),
        ended_at_ms: Some(ms("2026-11-16T18:30:00Z")),
    }];
    let mut c = checkin("c", "p", "2026-11-16T11:00:00Z", true);
    c.by = "vol-2".into();
    let a = attendance(span, &patrols, &[c]);
    let by = |u: &str| a.iter().find(|x| x.user == u).unwrap();
    assert_eq!(by("vol-1").signed_on_ms, Some(ms("2026-11-16T12:00:00Z")));
    assert_eq!(by("vol-1").signed_off_ms, Some(ms("2026-11-16T18:30:00Z")));
    assert_eq!(by("vol-2").signed_on_ms, Some(ms("2026-11-16T11:00:00Z")));
    assert_eq!(by("leader").signed_on_ms, None);
}

#[test]
fn bad_rosters_and_routes_are_refused_with_codes() {
    let mut r = roster();
    r.time_zone = "Mars/Olympus".into();
    assert_eq!(r.spans().unwrap_err().code(), "unknown_time_zone");
    let mut r = roster();
    r.week_of = "2026-11-17".into();
    assert_eq!(r.spans().unwrap_err().code(), "invalid_duty");
    let mut r = roster();
    r.shifts[0].start = "25:00".into();
    assert_eq!(r.spans().unwrap_err().code(), "invalid_time");
    let mut r = roster();
    r.shifts[0].start = "8:00".into();
    assert_eq!(r.spans().unwrap_err().code(), "invalid_time");
    let mut r = roster();
    r.shifts[1].id = r.shifts[0].id.clone();
    assert_eq!(r.spans().unwrap_err().code(), "invalid_duty");
    let mut r = roster();
    r.shifts[0].date = "16/11/2026".into();
    assert_eq!(r.spans().unwrap_err().code(), "invalid_date");
    assert_eq!(
        route(&[], "20:00", "02:00", 60).check().unwrap_err().code(),
        "invalid_duty"
    );
    assert_eq!(
        route(&["p"], "20:00", "02:00", 0)
            .check()
            .unwrap_err()
            .code(),
        "invalid_duty"
    );
    assert_eq!(
        route(&["p", "p"], "20:00", "02:00", 60)
            .check()
            .unwrap_err()
            .code(),
        "invalid_duty"
    );
}

#[test]
fn local_dates_and_times_are_read_exactly_as_their_patterns_say() {
    assert_eq!(
        civil_date("2026-11-16"),
        Some(jiff::civil::date(2026, 11, 16))
    );
    assert_eq!(
        civil_date("2024-02-29"),
        Some(jiff::civil::date(2024, 2, 29))
    );
    for bad in [
        "",
        "2026-1-16",
        "20261116",
        "2026-11-16T08:00",
        "+02026-11-16",
        "2026-13-01",
        "2025-02-29",
        "2026-11-16 ",
        "٢٠٢٦-11-16",
    ] {
        assert_eq!(civil_date(bad), None, "{bad:?}");
    }
    assert_eq!(civil_time("18:00"), Some(jiff::civil::time(18, 0, 0, 0)));
    assert_eq!(
        civil_time("23:59:59"),
        Some(jiff::civil::time(23, 59, 59, 0))
    );
    for bad in [
        "", "8:00", "24:00", "12:60", "23:59:60", "12:00:5", "12.00", "12:00Z", " 12:00",
    ] {
        assert_eq!(civil_time(bad), None, "{bad:?}");
    }
}
