/// The 28 top-level keys of a DummyJSON user, in the order the real API sends them.
public enum UserField: String, CaseIterable, Sendable {
    case id, firstName, lastName, maidenName, age, gender, email, phone, username, password
    case birthDate, image, bloodGroup, height, weight, eyeColor, hair, ip, address, macAddress
    case university, bank, company, ein, ssn, userAgent, crypto, role

    /// The field's bit in a `UserFieldSelection` mask (its position in the user).
    @inline(__always)
    var bit: UInt32 {
        switch self {
        case .id: 1 << 0
        case .firstName: 1 << 1
        case .lastName: 1 << 2
        case .maidenName: 1 << 3
        case .age: 1 << 4
        case .gender: 1 << 5
        case .email: 1 << 6
        case .phone: 1 << 7
        case .username: 1 << 8
        case .password: 1 << 9
        case .birthDate: 1 << 10
        case .image: 1 << 11
        case .bloodGroup: 1 << 12
        case .height: 1 << 13
        case .weight: 1 << 14
        case .eyeColor: 1 << 15
        case .hair: 1 << 16
        case .ip: 1 << 17
        case .address: 1 << 18
        case .macAddress: 1 << 19
        case .university: 1 << 20
        case .bank: 1 << 21
        case .company: 1 << 22
        case .ein: 1 << 23
        case .ssn: 1 << 24
        case .userAgent: 1 << 25
        case .crypto: 1 << 26
        case .role: 1 << 27
        }
    }
}

/// Which top-level keys to write: all of them, or `id` plus the keys named by `select=a,b`
/// (DummyJSON's rule: `id` always comes along, unknown names are ignored, keys keep the user's
/// own order whatever the order in `select`).
public struct UserFieldSelection: Sendable, Equatable {
    let mask: UInt32

    public static let all = UserFieldSelection(mask: UInt32.max)

    init(mask: UInt32) {
        self.mask = mask
    }

    public init(_ fields: some Sequence<UserField>) {
        var mask = UserField.id.bit
        for field in fields { mask |= field.bit }
        self.mask = mask
    }

    /// Parses the value of `select` (comma-separated; spaces around names are ignored). An empty
    /// or absent value selects everything, as in DummyJSON.
    public init(selectParameter: String?) {
        guard let value = selectParameter, !value.trimmingSpaces.isEmpty else {
            self = .all
            return
        }
        let names = value.split(separator: ",").map { String($0).trimmingSpaces }
        self.init(names.compactMap { UserField(rawValue: $0) })
    }

    @inline(__always)
    public func contains(_ field: UserField) -> Bool { mask & field.bit != 0 }

    /// The selected keys in output order.
    public var fields: [UserField] { UserField.allCases.filter(contains) }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
