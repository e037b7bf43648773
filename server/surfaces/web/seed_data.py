"""Names and values the demo seed picks from (server/surfaces/web/seed.py)."""

# fmt: off
DEMO_ORG_NAME = "Northwind Demo"
DEMO_DOMAIN = "northwind.example"
DEMO_TENANT_ID = "0b7c2a4e-5f1d-4c3b-9a8e-6d2f1e0c9b7a"
DEMO_SETTINGS = {  # the org logs every email by default and never logs colleagues' mail
    "apply_default_log": True, "log_by_default": True, "never_log_domains": [DEMO_DOMAIN],
}
USERS = [  # (name, role)
    ("Greta Hoffmann", "super_admin"),
    ("Jonas Weber", "admin"),
    ("Lena Fischer", "rep"),
    ("Mateo Alvarez", "rep"),
]
FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Hannah", "Ivan", "Julia", "Karim", "Laura",
    "Marek", "Nina", "Oskar", "Paula", "Rafael", "Sofia", "Tomasz", "Ute", "Viktor", "Wiebke",
    "Yusuf", "Zoe", "Amelie", "Bruno", "Chiara", "Dominik", "Emma", "Finn", "Greta", "Henrik",
    "Ines", "Jan", "Katarina", "Lukas", "Mila", "Noah", "Olga", "Pierre", "Rosa", "Samuel",
    "Theresa", "Valentin",
)
LAST_NAMES = (
    "Becker", "Schulz", "Novak", "Rossi", "Dubois", "Jansen", "Kowalski", "Lindqvist", "Moreau",
    "Nowak", "Okafor", "Petersen", "Quint", "Richter", "Santos", "Tanaka", "Urban", "Vogel",
    "Wagner", "Yilmaz", "Zimmermann", "Andersen", "Bauer", "Costa", "Dietrich", "Eriksen",
    "Fontaine", "Gruber", "Hartmann", "Ibrahim", "Keller", "Lambert", "Meyer", "Nielsen", "Ortega",
    "Pohl",
)
COMPANIES = [  # (name, industry)
    ("Alderbank Logistics", "Logistics"),
    ("Brightwater Foods", "Food & beverage"),
    ("Cobalt Ridge Energy", "Energy"),
    ("Dunmore Textiles", "Manufacturing"),
    ("Elbe Harbour Shipping", "Logistics"),
    ("Fernwood Clinics", "Healthcare"),
    ("Granite Peak Insurance", "Insurance"),
    ("Hollow Oak Furniture", "Retail"),
    ("Isarwerk Engineering", "Engineering"),
    ("Juniper Lane Hotels", "Hospitality"),
    ("Kestrel Aviation", "Aviation"),
    ("Lindenhof Dairy", "Food & beverage"),
    ("Marlow & Finch Legal", "Legal"),
    ("Northgate Software", "Software"),
    ("Oakridge Pharma", "Pharmaceuticals"),
    ("Pillar Point Construction", "Construction"),
    ("Quayside Media", "Media"),
    ("Rheinblick Wines", "Food & beverage"),
    ("Saltmarsh Analytics", "Software"),
    ("Tidewater Solar", "Energy"),
    ("Uplands Outdoor", "Retail"),
    ("Vantage Robotics", "Engineering"),
    ("Westbrook Bank", "Financial services"),
    ("Yellowpine Timber", "Manufacturing"),
    ("Zephyr Telecom", "Telecommunications"),
    ("Amberline Cosmetics", "Retail"),
    ("Blackforest Tools", "Manufacturing"),
    ("Clearview Optics", "Healthcare"),
    ("Driftwood Travel", "Hospitality"),
    ("Emberlight Studios", "Media"),
    ("Foxglove Gardens", "Retail"),
    ("Greywolf Security", "Software"),
    ("Harbourline Freight", "Logistics"),
    ("Ironbridge Steel", "Manufacturing"),
    ("Kingfisher Schools", "Education"),
    ("Larkspur Consulting", "Consulting"),
    ("Moorland Water", "Utilities"),
    ("Nettlefield Farms", "Agriculture"),
    ("Orchard Street Bakery", "Food & beverage"),
    ("Riverstone Capital", "Financial services"),
]
PERSONAL_DOMAINS = (
    "mailbox.example", "post.example", "webmail.example",
)
JOB_TITLES = (
    "Head of Purchasing", "Operations Manager", "CFO", "IT Director", "Office Manager",
    "Sales Director", "Procurement Lead", "CEO", "Fleet Manager", "Project Manager",
)
CITIES = (
    "Berlin", "Hamburg", "Munich", "Vienna", "Zurich", "Amsterdam", "Lyon", "Milan",
)
OPEN_STAGES = (
    "appointment_scheduled", "qualified_to_buy", "presentation_scheduled",
    "decision_maker_bought_in", "contract_sent",
)
DEAL_TOPICS = (
    "Annual licence renewal", "Fleet tracking rollout", "Pilot project", "Support contract",
    "Expansion to second site", "Onboarding package", "Hardware refresh", "Consulting days",
)
TICKET_SUBJECTS = (
    "Invoice shows the wrong VAT rate", "Cannot sign in to the portal", "Delivery arrived damaged",
    "Request for a copy of the contract", "Change of billing address",
    "Export fails with a timeout", "Question about the renewal date",
    "Training session for new staff", "Data export request", "Password reset link expired",
)
VEHICLE_SCHEMA = [
    {"name": "registration", "label": "Registration", "type": "text", "required": True},
    {
        "name": "make",
        "label": "Make",
        "type": "enum",
        "required": True,
        "options": ["Volkswagen", "Mercedes-Benz", "Ford", "Renault", "Toyota"],
    },
    {"name": "model", "label": "Model", "type": "text", "required": False},
    {"name": "year", "label": "Year", "type": "number", "required": False},
    {"name": "first_registered", "label": "First registered", "type": "date", "required": False},
    {
        "name": "fleet_contact_email",
        "label": "Fleet contact email",
        "type": "email",
        "required": False,
    },
    {"name": "electric", "label": "Electric", "type": "bool", "required": False},
]
MODELS = {
    "Volkswagen": ("Transporter", "ID. Buzz", "Caddy"),
    "Mercedes-Benz": ("Sprinter", "Vito", "eVito"),
    "Ford": ("Transit", "Transit Custom", "E-Transit"),
    "Renault": ("Kangoo", "Master", "Trafic"),
    "Toyota": ("Proace", "Hilux", "Corolla"),
}
# fmt: on
