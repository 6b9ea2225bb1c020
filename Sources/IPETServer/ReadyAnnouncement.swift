import Foundation

/// Says "listening" once both the socket is bound and the backbone loaded, whichever comes last, and only once:
/// scripts and tests wait for that one line before sending requests.
final class ReadyAnnouncement: @unchecked Sendable {
    private let lock = NSLock()
    private var url: String?
    private var isReady = false
    private var announced = false
    private let announce: @Sendable (String) -> Void

    init(_ announce: @escaping @Sendable (String) -> Void) { self.announce = announce }

    func listening(_ url: String) {
        lock.lock()
        self.url = url
        lock.unlock()
        check()
    }

    func ready() {
        lock.lock()
        isReady = true
        lock.unlock()
        check()
    }

    private func check() {
        lock.lock()
        guard let url, isReady, !announced else { lock.unlock(); return }
        announced = true
        lock.unlock()
        announce(url)
    }
}
