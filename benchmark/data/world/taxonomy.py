"""The world's fixed vocabulary: per-domain category trees, visual styles and word lists.

Leaves are listed in complementary pairs (leaf 2k and 2k+1 complement each other: shampoo and
conditioner, bottles and bibs), which the sequence model uses for "bought X, then its complement".
No word here may contain a double quote or a backslash: review lines are assembled without escaping.
"""
from __future__ import annotations

# Domain -> (root category as Amazon 2014 writes it, [(path below the root, noun, typical price $)]).
TREES: dict[str, tuple[str, list[tuple[str, str, float]]]] = {
    "Baby": ("Baby", [
        ("Feeding > Bottle-Feeding > Bottles", "bottle", 14.0),
        ("Feeding > Bibs & Burp Cloths", "bib", 9.0),
        ("Diapering > Diaper Bags", "diaper bag", 38.0),
        ("Diapering > Changing Pads & Covers", "changing pad", 22.0),
        ("Gear > Strollers", "stroller", 160.0),
        ("Gear > Baby Carriers", "baby carrier", 60.0),
        ("Nursery > Bedding > Blankets", "blanket", 24.0),
        ("Nursery > Decor > Night Lights", "night light", 19.0),
        ("Pacifiers, Teethers & Teething Relief > Pacifiers", "pacifier", 7.0),
        ("Pacifiers, Teethers & Teething Relief > Teethers", "teether", 8.0),
        ("Bathing & Skin Care > Washcloths & Towels", "hooded towel", 15.0),
        ("Safety > Monitors", "baby monitor", 85.0),
    ]),
    "Beauty": ("Beauty", [
        ("Hair Care > Shampoos", "shampoo", 12.0),
        ("Hair Care > Conditioners", "conditioner", 12.0),
        ("Skin Care > Face > Cleansers", "cleanser", 15.0),
        ("Skin Care > Face > Moisturizers", "moisturizer", 24.0),
        ("Makeup > Eyes > Mascara", "mascara", 11.0),
        ("Makeup > Lips > Lipstick", "lipstick", 10.0),
        ("Makeup > Face > Foundation", "foundation", 20.0),
        ("Tools & Accessories > Makeup Brushes & Tools > Brush Sets", "brush set", 18.0),
        ("Makeup > Nails > Nail Polish", "nail polish", 8.0),
        ("Tools & Accessories > Nail Tools > Nail Files", "nail file", 6.0),
        ("Fragrance > Women's > Eau de Parfum", "perfume", 45.0),
        ("Skin Care > Body > Lotions", "body lotion", 13.0),
    ]),
    "Clothing_Shoes_and_Jewelry": ("Clothing, Shoes & Jewelry", [
        ("Women > Clothing > Dresses", "dress", 35.0),
        ("Women > Shoes > Sandals", "sandal", 40.0),
        ("Women > Handbags & Wallets > Shoulder Bags", "shoulder bag", 45.0),
        ("Women > Accessories > Scarves & Wraps", "scarf", 16.0),
        ("Men > Clothing > Shirts", "shirt", 28.0),
        ("Men > Accessories > Belts", "belt", 22.0),
        ("Men > Shoes > Fashion Sneakers", "sneaker", 60.0),
        ("Men > Accessories > Hats & Caps", "cap", 18.0),
        ("Women > Jewelry > Necklaces", "necklace", 30.0),
        ("Men > Watches > Wrist Watches", "watch", 80.0),
        ("Girls > Clothing > Skirts", "skirt", 18.0),
        ("Boys > Clothing > Hoodies", "hoodie", 25.0),
    ]),
    "Grocery_and_Gourmet_Food": ("Grocery & Gourmet Food", [
        ("Beverages > Coffee > Ground Coffee", "ground coffee", 11.0),
        ("Beverages > Tea > Herbal Tea", "herbal tea", 8.0),
        ("Snack Foods > Chips & Crisps", "bag of chips", 4.0),
        ("Sauces & Condiments > Hot Sauce", "hot sauce", 6.0),
        ("Candy & Chocolate > Chocolate Bars", "chocolate bar", 5.0),
        ("Candy & Chocolate > Gummy Candy", "gummy candy", 6.0),
        ("Cooking & Baking > Baking Mixes", "baking mix", 7.0),
        ("Cooking & Baking > Spices & Seasonings > Spice Blends", "spice blend", 9.0),
        ("Breakfast Foods > Cereals", "cereal", 5.0),
        ("Beverages > Juices", "juice", 6.0),
        ("Pasta & Noodles > Noodles", "noodle pack", 4.0),
        ("Snack Foods > Nuts & Seeds", "nut mix", 10.0),
    ]),
    "Sports_and_Outdoors": ("Sports & Outdoors", [
        ("Exercise & Fitness > Yoga > Mats", "yoga mat", 25.0),
        ("Exercise & Fitness > Accessories > Water Bottles", "water bottle", 14.0),
        ("Outdoor Recreation > Camping & Hiking > Tents", "tent", 120.0),
        ("Outdoor Recreation > Camping & Hiking > Backpacks", "backpack", 55.0),
        ("Outdoor Recreation > Cycling > Helmets", "bike helmet", 45.0),
        ("Outdoor Recreation > Cycling > Lights", "bike light", 20.0),
        ("Team Sports > Soccer > Balls", "soccer ball", 22.0),
        ("Team Sports > Basketball > Balls", "basketball", 25.0),
        ("Exercise & Fitness > Strength Training > Dumbbells", "dumbbell", 30.0),
        ("Exercise & Fitness > Running > Armbands", "armband", 12.0),
        ("Hunting & Fishing > Fishing > Reels", "fishing reel", 48.0),
        ("Outdoor Recreation > Camping & Hiking > Headlamps", "headlamp", 18.0),
    ]),
    "Toys_and_Games": ("Toys & Games", [
        ("Games > Board Games", "board game", 28.0),
        ("Games > Card Games", "card game", 12.0),
        ("Building Toys > Building Sets", "building set", 35.0),
        ("Puzzles > Jigsaw Puzzles", "jigsaw puzzle", 15.0),
        ("Stuffed Animals & Plush > Plush Figures", "plush toy", 14.0),
        ("Dolls & Accessories > Dolls", "doll", 22.0),
        ("Arts & Crafts > Drawing & Painting Supplies > Crayons", "crayon set", 8.0),
        ("Arts & Crafts > Clay & Dough", "modeling clay", 10.0),
        ("Vehicles & Remote-Control > Cars", "toy car", 18.0),
        ("Sports & Outdoor Play > Balls", "play ball", 9.0),
        ("Learning & Education > Science Kits", "science kit", 30.0),
        ("Baby & Toddler Toys > Stacking Toys", "stacking toy", 13.0),
    ]),
    "Office_Products": ("Office Products", [
        ("Office & School Supplies > Writing & Correction Supplies > Pens", "pen", 9.0),
        ("Office & School Supplies > Paper > Notebooks", "notebook", 8.0),
        ("Office & School Supplies > Writing & Correction Supplies > Highlighters", "highlighter", 6.0),
        ("Office & School Supplies > Paper > Sticky Notes", "sticky note pad", 7.0),
        ("Office & School Supplies > Binders & Binding Systems > Binders", "binder", 10.0),
        ("Office & School Supplies > Filing Products > File Folders", "file folder", 12.0),
        ("Office & School Supplies > Staplers & Punches > Staplers", "stapler", 14.0),
        ("Office & School Supplies > Cutting & Measuring > Scissors", "pair of scissors", 8.0),
        ("Office Electronics > Calculators", "calculator", 16.0),
        ("Office Electronics > Label Makers", "label maker", 35.0),
        ("Office Furniture & Lighting > Desk Lamps", "desk lamp", 30.0),
        ("Office & School Supplies > Desk Accessories & Workspace Organizers > Desk Organizers",
         "desk organizer", 20.0),
    ]),
}

# Visual styles. RGB values are what the renderer paints; names are what text says.
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "black")
PALETTE = (
    (205, 35, 40), (240, 135, 25), (240, 205, 30), (40, 150, 65),
    (35, 85, 205), (125, 55, 170), (240, 115, 175), (30, 30, 32),
)
SHAPES = ("circle", "square", "triangle", "diamond")
SHAPE_ADJ = ("round", "square", "triangular", "diamond-shaped")
PATTERNS = ("solid", "striped", "dotted", "checked")

STYLE_WORDS = (
    "Classic", "Premium", "Everyday", "Deluxe", "Compact", "Soft", "Organic", "Essential",
    "Signature", "Ultra", "Natural", "Modern", "Vintage", "Sport", "Gentle", "Bold",
)
VARIANT_WORDS = (
    "Plus", "Mini", "Max", "Pro", "Lite", "Duo", "Edition", "Select", "Prime", "One",
    "Go", "Flex", "Air", "Nova", "Core", "Elite",
)
FEATURES = (
    "Made for everyday use.", "Easy to clean.", "Ships in recyclable packaging.",
    "Backed by a one-year warranty.", "A thoughtful gift idea.", "Lightweight and easy to carry.",
    "Designed and tested in the USA.", "Free of harsh chemicals.", "Built to last.",
    "Great for travel.", "Loved by families everywhere.", "Satisfaction guaranteed.",
)

# Brand names are a seeded prefix+suffix pair (never a colour word: the title test looks for those).
BRAND_PREFIXES = (
    "Lun", "Vel", "Mar", "Sol", "Kin", "Tor", "Bel", "Cas", "Dax", "Eve", "Fen", "Gal", "Hal",
    "Iso", "Jun", "Kal", "Lor", "Mon", "Nor", "Oro", "Pax", "Quin", "Ros", "Sav", "Tal", "Ul",
    "Vin", "Wes", "Xan", "Yor", "Zel", "Ald", "Bri", "Cor", "Dun", "Ell", "Fal", "Gor", "Hav", "Ivo",
)
BRAND_SUFFIXES = (
    "ora", "brook", "ix", "ana", "ford", "ly", "ton", "vale", "era", "wick", "dale", "ino",
    "ster", "ique", "ara", "well", "mont", "ella", "by", "stone", "field", "ona", "ex", "ia",
    "crest", "ham", "ley", "ori", "und", "ette",
)

FIRST_NAMES = (
    "Mary", "John", "Linda", "James", "Susan", "Robert", "Karen", "Michael", "Lisa", "David",
    "Nancy", "William", "Betty", "Richard", "Sandra", "Joseph", "Donna", "Thomas", "Carol",
    "Charles", "Sarah", "Daniel", "Jessica", "Matthew", "Emily", "Anthony", "Ashley", "Mark",
    "Amanda", "Paul", "Melissa", "Steven", "Deborah", "Kevin", "Laura", "Brian", "Rachel", "Jason",
    "Megan", "Eric", "Anna", "Chris", "Kim", "Pat", "Sam", "Jo", "Alex", "Taylor",
)
LAST_NAMES = (
    "Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Moore", "Taylor",
    "Anderson", "Thomas", "Jackson", "White", "Harris", "Martin", "Lee", "Walker", "Hall",
    "Young", "King", "O'Brien", "Nguyen", "Lopez", "Scott",
)
