// A mutex that ThreadSanitizer can see, with clang's thread-safety annotations.
//
// absl::Mutex carries the same annotations, but Debian's abseil is built without
// ThreadSanitizer's hooks: a TSan build cannot see it synchronize and reports every access it
// guards as a race. This one is a std::mutex (pthread, which TSan intercepts) under the
// annotations, so `ABSL_GUARDED_BY` still checks at compile time and TSan still checks at
// run time. CondVar waits on it, for a thread that must learn at once what another one set.
//
//   base::Mutex mu_;
//   int count_ ABSL_GUARDED_BY(mu_);
//   { base::MutexLock lock(&mu_); ++count_; }
//
// Thread-safe, as a mutex must be. None of the types can be copied or moved.

#ifndef SLUICE_BASE_MUTEX_H_
#define SLUICE_BASE_MUTEX_H_

#include <absl/base/thread_annotations.h>
#include <absl/time/clock.h>
#include <absl/time/time.h>

#include <condition_variable>
#include <mutex>

namespace sluice::base {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// Waits until another thread signals, with the same Mutex held.
//
//   { base::MutexLock lock(&mu_); while (!ready_ && cv_.WaitUntil(&mu_, deadline)) {} }
//   { base::MutexLock lock(&mu_); ready_ = true; } cv_.SignalAll();
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases `mu` while it waits, and holds it again on return. False once `deadline` passed;
  // true when signalled (or woken spuriously): the caller looks at its condition again.
  bool WaitUntil(Mutex* mu, absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (absl::Now() >= deadline) return false;
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool signalled =
        deadline == absl::InfiniteFuture()
            ? (cv_.wait(lock), true)
            : cv_.wait_until(lock, absl::ToChronoTime(deadline)) == std::cv_status::no_timeout;
    lock.release();  // still held: the caller's MutexLock unlocks it
    return signalled;
  }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace sluice::base

#endif  // SLUICE_BASE_MUTEX_H_
