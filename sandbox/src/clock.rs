//! The sandbox's clock: real time, optionally sped up and advanced, so tests can watch a
//! ten-minute rollout in seconds. ECS and credential expiry run on it; JWT expiry does not
//! (tokens are minted against real time).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct Clock {
    origin: Instant,
    origin_epoch: f64,
    speed: f64,
    offset: f64,
}

impl Clock {
    pub fn new(speed: f64) -> Self {
        Clock {
            origin: Instant::now(),
            origin_epoch: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64(),
            speed: speed.max(0.001),
            offset: 0.0,
        }
    }

    /// Seconds since the epoch on the sandbox's clock.
    pub fn now(&self) -> f64 {
        self.origin_epoch + self.offset + self.origin.elapsed().as_secs_f64() * self.speed
    }

    /// Jump forward.
    pub fn advance(&mut self, seconds: f64) {
        self.offset += seconds.max(0.0);
    }

    /// Change the speed without jumping.
    pub fn set_speed(&mut self, speed: f64) {
        let now = self.now();
        self.origin = Instant::now();
        self.origin_epoch = now;
        self.offset = 0.0;
        self.speed = speed.max(0.001);
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_and_speeds_up() {
        let mut c = Clock::new(1.0);
        let t0 = c.now();
        c.advance(100.0);
        assert!(c.now() - t0 >= 100.0);
        c.set_speed(1000.0);
        let t1 = c.now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(c.now() - t1 >= 15.0, "{}", c.now() - t1);
    }
}
