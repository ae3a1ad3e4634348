/// The value checks and derived fields of docs/TRANSFORMER.md, as pure functions over bytes and numbers.
public enum FieldRules {
    /// Whether `address` (UTF-8) is a plausible e-mail address: one `@`; a local part of at most
    /// 64 characters from RFC 5322's dot-atom (letters, digits, ``!#$%&'*+/=?^_`{|}~-``, dots
    /// not first, last or doubled); a domain of at least two dot-separated labels of letters,
    /// digits and inner hyphens (each at most 63), ending in an alphabetic top-level label of at
    /// least two letters; 254 characters in all. ASCII only.
    public static func isValidEmail(_ address: UnsafeRawBufferPointer) -> Bool {
        let n = address.count
        guard n >= 6, n <= 254 else { return false }
        var at = -1
        for i in 0..<n where address[i] == UInt8(ascii: "@") {
            guard at < 0 else { return false }
            at = i
        }
        guard at > 0, at <= 64, at < n - 1 else { return false }
        // Local part.
        var previousDot = true
        for i in 0..<at {
            let c = address[i]
            if c == UInt8(ascii: ".") {
                if previousDot { return false }
                previousDot = true
                continue
            }
            previousDot = false
            guard isAtext(c) else { return false }
        }
        if previousDot { return false }
        // Domain.
        var labels = 0
        var labelStart = at + 1
        var i = at + 1
        while i <= n {
            if i == n || address[i] == UInt8(ascii: ".") {
                let length = i - labelStart
                guard length >= 1, length <= 63 else { return false }
                guard address[labelStart] != UInt8(ascii: "-"), address[i - 1] != UInt8(ascii: "-") else { return false }
                labels += 1
                if i == n {
                    guard length >= 2 else { return false }
                    for k in labelStart..<i where !isLetter(address[k]) { return false }
                }
                labelStart = i + 1
            } else {
                let c = address[i]
                guard isLetter(c) || isDigit(c) || c == UInt8(ascii: "-") else { return false }
            }
            i += 1
        }
        return labels >= 2
    }

    /// `YYYY-M-D` (one or two digits for month and day, as DummyJSON writes it) or `YYYY-MM-DD`,
    /// a real calendar date (the row writes it as `YYYY-MM-DD`); `nil` when it is anything else.
    public static func normalizedBirthDate(_ text: UnsafeRawBufferPointer) -> (year: Int, month: Int, day: Int)? {
        var values = (0, 0, 0)
        var lengths = (0, 0, 0)
        var part = 0
        var value = 0
        var digits = 0
        func store() {
            switch part {
            case 0: values.0 = value; lengths.0 = digits
            case 1: values.1 = value; lengths.1 = digits
            default: values.2 = value; lengths.2 = digits
            }
        }
        for c in text {
            if c == UInt8(ascii: "-") {
                guard digits > 0, part < 2 else { return nil }
                store()
                part += 1
                value = 0
                digits = 0
            } else if isDigit(c) {
                digits += 1
                guard digits <= 4 else { return nil }
                value = value * 10 + Int(c - UInt8(ascii: "0"))
            } else {
                return nil
            }
        }
        guard digits > 0, part == 2 else { return nil }
        store()
        guard lengths.0 == 4, lengths.1 <= 2, lengths.2 <= 2 else { return nil }
        let (year, month, day) = values
        guard year >= 1, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        return (year, month, day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// The age bracket: `18-24`, `25-34`, `35-44`, `45-54`, `55-64`, `65+` (and `<18` when
    /// `AGE_MIN` lets younger rows through).
    public static func ageGroup(_ age: Int) -> StaticString {
        switch age {
        case ..<18: "<18"
        case 18...24: "18-24"
        case 25...34: "25-34"
        case 35...44: "35-44"
        case 45...54: "45-54"
        case 55...64: "55-64"
        default: "65+"
        }
    }

    /// Body-mass index in tenths (`225` is 22.5): `weight / (height/100)^2`, rounded half away
    /// from zero to one decimal; `nil` when either is missing, not positive, or the result is absurd.
    public static func bmiTenths(heightCm: Double?, weightKg: Double?) -> Int? {
        guard let height = heightCm, let weight = weightKg, height > 0, weight > 0 else { return nil }
        let meters = height / 100
        let bmi = weight / (meters * meters)
        let tenths = (bmi * 10).rounded(.toNearestOrAwayFromZero)
        guard tenths.isFinite, tenths < 1e12 else { return nil }
        return Int(tenths)
    }

    /// The category of a BMI given in tenths, judged on the rounded value so that it always
    /// agrees with the `bmi` written next to it.
    public static func bmiCategory(tenths: Int) -> StaticString {
        switch tenths {
        case ..<185: "underweight"
        case ..<250: "normal"
        case ..<300: "overweight"
        default: "obese"
        }
    }

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }
    @inline(__always) static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) &- UInt8(ascii: "a") < 26 }

    static func isAtext(_ c: UInt8) -> Bool {
        if isLetter(c) || isDigit(c) { return true }
        switch c {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="),
             UInt8(ascii: "?"), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "{"),
             UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}

