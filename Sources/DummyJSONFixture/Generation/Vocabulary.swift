// Word lists the generator draws from. Every entry is plain ASCII with nothing JSON needs to
// escape (no quote, backslash or control character), so the generator copies the bytes as they
// are; `Vocabulary.check()` (run by the tests) asserts that.

/// A word of a `WordList`: a pointer into memory that lives as long as the process.
struct Word {
    let start: UnsafePointer<UInt8>
    let count: Int
}

/// One list of words, stored once in contiguous memory that is never freed (the lists are
/// process-wide constants), so the generator reads words with no reference counting.
struct WordList: @unchecked Sendable {  // immutable after init
    private let storage: UnsafePointer<UInt8>
    private let offsets: UnsafePointer<Int>  // count + 1 entries
    let count: Int
    let strings: [String]

    init(_ strings: [String]) {
        precondition(!strings.isEmpty)
        let utf8 = strings.map { Array($0.utf8) }
        let total = utf8.reduce(0) { $0 + $1.count }
        let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: strings.count + 1)
        var at = 0
        for (i, word) in utf8.enumerated() {
            offsets[i] = at
            (storage + at).initialize(from: word, count: word.count)
            at += word.count
        }
        offsets[strings.count] = at
        self.storage = UnsafePointer(storage)
        self.offsets = UnsafePointer(offsets)
        self.count = strings.count
        self.strings = strings
    }

    @inline(__always)
    subscript(_ index: Int) -> Word {
        let start = offsets[index]
        return Word(start: storage + start, count: offsets[index + 1] - start)
    }
}

enum Vocabulary {
    /// First names with their gender; the first `femaleFirstNameCount` are female.
    static let firstNamesFemale = [
        "Emily", "Olivia", "Sophia", "Emma", "Ava", "Isabella", "Mia", "Charlotte", "Amelia", "Harper",
        "Evelyn", "Abigail", "Ella", "Avery", "Scarlett", "Grace", "Chloe", "Victoria", "Riley", "Aria",
        "Lily", "Aubrey", "Zoey", "Penelope", "Layla", "Nora", "Hannah", "Addison", "Eleanor", "Stella",
        "Natalie", "Zoe", "Leah", "Hazel", "Violet", "Aurora", "Savannah", "Audrey", "Brooklyn", "Bella",
        "Claire", "Skylar", "Lucy", "Paisley", "Anna", "Caroline", "Nova", "Madison", "Ruby", "Alice",
    ]
    static let firstNamesMale = [
        "Michael", "James", "William", "Alexander", "Ethan", "Daniel", "Logan", "Jackson", "Liam", "Mason",
        "Noah", "Lucas", "Benjamin", "Elijah", "Oliver", "Jacob", "Aiden", "Matthew", "Samuel", "David",
        "Joseph", "Carter", "Owen", "Wyatt", "John", "Jack", "Luke", "Jayden", "Dylan", "Grayson",
        "Levi", "Isaac", "Gabriel", "Julian", "Mateo", "Anthony", "Jaxon", "Lincoln", "Joshua", "Christopher",
        "Andrew", "Theodore", "Caleb", "Ryan", "Asher", "Nathan", "Thomas", "Leo", "Isaiah", "Charles",
    ]
    static let firstNames = WordList(firstNamesFemale + firstNamesMale)
    static let firstNamesLower = WordList((firstNamesFemale + firstNamesMale).map { $0.lowercased() })
    static let femaleFirstNameCount = firstNamesFemale.count

    static let lastNameStrings = [
        "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez",
        "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
        "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
        "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
        "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez",
        "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart",
        "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
        "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson",
        "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price",
        "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell",
    ]
    static let lastNames = WordList(lastNameStrings)
    static let lastNamesLower = WordList(lastNameStrings.map { $0.lowercased() })
    /// For each last name: its lower-cased initial and its rank among the names sharing that
    /// initial (0 for the first). Usernames are first name + initial (+ a number from the rank),
    /// which keeps them unique without a look-up table.
    static let lastNameInitialRank: [(initial: UInt8, rank: Int)] = {
        var seen: [UInt8: Int] = [:]
        return lastNameStrings.map { name in
            let initial = name.lowercased().utf8.first!
            let rank = seen[initial, default: 0]
            seen[initial] = rank + 1
            return (initial, rank)
        }
    }()
    static let maxInitialRank: Int = lastNameInitialRank.map(\.rank).max()! + 1

    static let phoneCountryCodes = WordList([
        "1", "44", "49", "33", "34", "39", "31", "46", "47", "45", "358", "48", "7", "81", "82", "86", "91",
        "61", "64", "55", "52", "54", "57", "27", "234", "20", "971", "966", "90", "92", "63", "62", "60", "65", "66",
    ])
    static let bloodGroups = WordList(["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"])
    static let eyeColors = WordList(["Green", "Brown", "Gray", "Blue", "Amber", "Hazel", "Violet", "Red"])
    static let hairColors = WordList(["Brown", "Black", "Blonde", "Red", "Gray", "White", "Auburn", "Chestnut", "Purple", "Green", "Blue", "Pink"])
    static let hairTypes = WordList(["Curly", "Straight", "Wavy", "Kinky", "Coily"])

    static let streetNames = WordList([
        "Main Street", "Second Street", "Third Street", "Fourth Street", "Fifth Street", "Sixth Street",
        "Seventh Street", "Eighth Street", "Ninth Street", "Tenth Street", "First Street", "Elm Street",
        "Maple Street", "Oak Street", "Pine Street", "Cedar Street", "Washington Street", "Lincoln Street",
        "Jefferson Street", "Madison Street", "Park Avenue", "Lake Street", "Hill Street", "Church Street",
        "Spring Street", "River Road", "Sunset Boulevard", "Broadway", "Highland Avenue", "Mill Road",
    ])
    static let cities = WordList([
        "Phoenix", "Houston", "Washington", "Seattle", "Jacksonville", "San Antonio", "Columbus", "Indianapolis",
        "Charlotte", "Dallas", "San Francisco", "Fort Worth", "San Diego", "Chicago", "Philadelphia", "Austin",
        "Denver", "Nashville", "Oklahoma City", "El Paso", "Boston", "Portland", "Las Vegas", "Memphis",
        "Louisville", "Baltimore", "Milwaukee", "Albuquerque", "Tucson", "Fresno", "Sacramento", "Mesa",
        "Atlanta", "Omaha", "Raleigh", "Miami", "Minneapolis", "Tulsa", "Cleveland", "New York",
    ])
    static let stateStrings: [(name: String, code: String)] = [
        ("Alabama", "AL"), ("Alaska", "AK"), ("Arizona", "AZ"), ("Arkansas", "AR"), ("California", "CA"),
        ("Colorado", "CO"), ("Connecticut", "CT"), ("Delaware", "DE"), ("Florida", "FL"), ("Georgia", "GA"),
        ("Hawaii", "HI"), ("Idaho", "ID"), ("Illinois", "IL"), ("Indiana", "IN"), ("Iowa", "IA"),
        ("Kansas", "KS"), ("Kentucky", "KY"), ("Louisiana", "LA"), ("Maine", "ME"), ("Maryland", "MD"),
        ("Massachusetts", "MA"), ("Michigan", "MI"), ("Minnesota", "MN"), ("Mississippi", "MS"), ("Missouri", "MO"),
        ("Montana", "MT"), ("Nebraska", "NE"), ("Nevada", "NV"), ("New Hampshire", "NH"), ("New Jersey", "NJ"),
        ("New Mexico", "NM"), ("New York", "NY"), ("North Carolina", "NC"), ("North Dakota", "ND"), ("Ohio", "OH"),
        ("Oklahoma", "OK"), ("Oregon", "OR"), ("Pennsylvania", "PA"), ("Rhode Island", "RI"), ("South Carolina", "SC"),
        ("South Dakota", "SD"), ("Tennessee", "TN"), ("Texas", "TX"), ("Utah", "UT"), ("Vermont", "VT"),
        ("Virginia", "VA"), ("Washington", "WA"), ("West Virginia", "WV"), ("Wisconsin", "WI"), ("Wyoming", "WY"),
    ]
    static let states = WordList(stateStrings.map(\.name))
    static let stateCodes = WordList(stateStrings.map(\.code))

    static let universities = WordList([
        "University of Wisconsin--Madison", "Ohio State University", "Pepperdine University",
        "University of Southern California", "Stanford University", "Harvard University",
        "Massachusetts Institute of Technology", "University of Michigan", "Georgia Institute of Technology",
        "University of California, Berkeley", "University of Texas at Austin", "Purdue University",
        "Cornell University", "Columbia University", "University of Washington", "Duke University",
        "Northwestern University", "University of Chicago", "Yale University", "Princeton University",
        "University of Florida", "Rice University", "Emory University", "Boston University",
        "University of Illinois Urbana-Champaign", "Arizona State University",
    ])

    static let cardTypes = WordList([
        "Elo", "Visa", "Mastercard", "American Express", "Discover", "JCB", "Diners Club International",
        "Maestro", "UnionPay", "Visa Electron", "Dankort", "InstaPayment", "Bankcard", "Laser",
    ])
    static let currencies = WordList([
        "CNY", "USD", "EUR", "GBP", "JPY", "INR", "BRL", "AUD", "CAD", "CHF", "SEK", "NOK", "DKK", "PLN",
        "KRW", "MXN", "ZAR", "NZD", "SGD", "HKD", "TRY", "IDR", "PHP", "SAR",
    ])

    /// The twelve departments of the real data, in no particular order.
    static let departmentStrings = [
        "Marketing", "Legal", "Research and Development", "Support", "Engineering", "Human Resources",
        "Services", "Accounting", "Product Management", "Sales", "Training", "Business Development",
    ]
    static let departments = WordList(departmentStrings)
    static let titles = WordList([
        "Sales Manager", "Support Specialist", "Research Analyst", "Accountant", "Product Manager",
        "Software Engineer", "Marketing Manager", "Legal Counsel", "Training Coordinator", "HR Manager",
        "Business Analyst", "Services Manager", "Data Scientist", "Quality Assurance Engineer",
        "Customer Support Representative", "Project Manager", "Operations Manager", "Financial Analyst",
        "Web Developer", "Chief Executive Officer", "Chief Technology Officer", "Office Manager",
        "Recruiter", "Sales Representative", "Business Development Manager", "Systems Administrator",
    ])

    static let userAgents = WordList([
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.93 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.1.2 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/97.0.4692.71 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:95.0) Gecko/20100101 Firefox/95.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 15_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.2 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 12; Pixel 6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.104 Mobile Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.110 Safari/537.36 Edg/96.0.1054.62",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:96.0) Gecko/20100101 Firefox/96.0",
        "Mozilla/5.0 (iPad; CPU OS 15_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 12_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/97.0.4692.71 Safari/537.36",
    ])

    /// Spelled-out numbers used for the "wrong type" bad row (age as a string).
    static let units = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                        "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                        "eighteen", "nineteen"]
    static let tens = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

    static func spelled(_ n: Int) -> String {
        if n < 20 { return units[max(n, 0)] }
        let t = tens[min(n / 10, 9)]
        return n % 10 == 0 ? t : t + "-" + units[n % 10]
    }

    /// Every list, for the tests' escaping check.
    static var allLists: [WordList] {
        [firstNames, firstNamesLower, lastNames, lastNamesLower, phoneCountryCodes, bloodGroups, eyeColors,
         hairColors, hairTypes, streetNames, cities, states, stateCodes, universities, cardTypes, currencies,
         departments, titles, userAgents]
    }

    /// True when no word needs JSON escaping.
    static func check() -> Bool {
        allLists.allSatisfy { list in
            (0..<list.count).allSatisfy { i in
                let word = list[i]
                return String(decoding: UnsafeBufferPointer(start: word.start, count: word.count), as: UTF8.self) == list.strings[i]
                    && list.strings[i].utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }
            }
        }
    }
}
