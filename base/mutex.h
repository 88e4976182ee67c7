// A mutex that ThreadSanitizer can see, with clang's thread-safety annotations.
//
// absl::Mutex carries the same annotations, but Debian's abseil is built without
// ThreadSanitizer's hooks: a TSan build cannot see it synchronize and reports every access it
// guards as a race. This one is a std::mutex (pthread, which TSan intercepts) under the
// annotations, so `ABSL_GUARDED_BY` still checks at compile time and TSan still checks at
// run time.
//
//   base::Mutex mu_;
//   int count_ ABSL_GUARDED_BY(mu_);
//   { base::MutexLock lock(&mu_); ++count_; }
//
// Thread-safe, as a mutex must be. Neither type can be copied or moved.

#ifndef SLUICE_BASE_MUTEX_H_
#define SLUICE_BASE_MUTEX_H_

#include <absl/base/thread_annotations.h>

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

}  // namespace sluice::base

#endif  // SLUICE_BASE_MUTEX_H_
