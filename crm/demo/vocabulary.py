"""The words demo and generated data are made of: names, companies, ticket texts, comments.

Russian entries are the point of this module, so ruff's confusable-letter check (RUF001),
which flags Cyrillic words spelt only with letters that look Latin, is off here.
"""
# ruff: noqa: RUF001

from __future__ import annotations

from typing import NamedTuple


class FirstName(NamedTuple):
    """A given name as written and in Latin letters (for email addresses)."""

    text: str
    latin: str
    female: bool


class Surname(NamedTuple):
    """A family name: Russian ones change with gender, English ones do not."""

    male: str
    female: str
    latin_male: str
    latin_female: str


def _words(text: str) -> list[str]:
    """The words of a space-separated list: long name lists read better as running text."""
    return text.split()


def _ru_first(names: str, latin: str, *, female: bool) -> list[FirstName]:
    return [
        FirstName(text, lat, female) for text, lat in zip(_words(names), _words(latin), strict=True)
    ]


RU_FIRST_NAMES: list[FirstName] = _ru_first(
    "Анна Мария Елена Ольга Наталья Ирина Татьяна Екатерина Светлана Юлия Дарья Алина "
    "Ксения Полина Виктория Марина Людмила Вера Евгения Софья",
    "anna maria elena olga natalia irina tatiana ekaterina svetlana yulia daria alina "
    "ksenia polina victoria marina lyudmila vera evgenia sofia",
    female=True,
) + _ru_first(
    "Александр Сергей Дмитрий Андрей Алексей Максим Иван Михаил Никита Артём Павел Роман "
    "Владимир Игорь Константин Егор Николай Олег Денис Тимур",
    "alexander sergey dmitry andrey alexey maxim ivan mikhail nikita artem pavel roman "
    "vladimir igor konstantin egor nikolay oleg denis timur",
    female=False,
)

_RU_SURNAMES = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов "
    "Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев "
    "Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв "
    "Сергеев Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв"
)
_RU_SURNAMES_LATIN = (
    "ivanov smirnov kuznetsov popov vasiliev petrov sokolov mikhailov novikov fedorov morozov "
    "volkov alekseev lebedev semenov egorov pavlov kozlov stepanov nikolaev orlov andreev "
    "makarov nikitin zakharov zaitsev soloviev borisov yakovlev grigoriev romanov vorobiev "
    "sergeev kuzmin frolov alexandrov dmitriev korolev gusev kiselev"
)
RU_SURNAMES: list[Surname] = [
    Surname(text, text + "а", latin, latin + "a")
    for text, latin in zip(_words(_RU_SURNAMES), _words(_RU_SURNAMES_LATIN), strict=True)
]

EN_FIRST_NAMES: list[FirstName] = [
    FirstName(name, name.lower(), female)
    for names, female in (
        (
            "Emily Olivia Sophie Charlotte Amelia Grace Hannah Jessica Lucy Emma Chloe Laura "
            "Rachel Sarah Megan Alice Isabel Ruth Helen Claire",
            True,
        ),
        (
            "James Oliver Thomas William Jack Harry George Daniel Michael David Matthew Samuel "
            "Benjamin Andrew Richard Peter Mark Edward Robert Paul",
            False,
        ),
    )
    for name in _words(names)
]
EN_SURNAMES: list[Surname] = [
    Surname(name, name, name.lower(), name.lower())
    for name in _words(
        "Smith Johnson Williams Brown Jones Miller Davis Wilson Taylor Clark Walker Wright "
        "Thompson White Harris Martin Cooper Evans Green Hall Wood Turner Hughes Edwards "
        "Baker Carter Phillips Morgan Bennett Collins Stewart Murphy Price Bell Ward Fisher "
        "Reed Palmer Mason Hunt"
    )
]

RU_COMPANIES = [
    "ООО «Северный ветер»",
    "АО «Техносфера»",
    "ООО «Ромашка»",
    "ООО «Вектор Плюс»",
    "ИП Кузнецов А. В.",
    "ООО «Гранит-Строй»",
    "АО «Уральские системы»",
    "ООО «Логистика 24»",
    "ООО «Медицинский центр Здоровье»",
    "ООО «Кофейня на Мойке»",
    "АО «Балтийская верфь сервис»",
    "ООО «Пиксель Студио»",
]
EN_COMPANIES = [
    "Northwind Traders Ltd",
    "Blue Harbour Consulting",
    "Greenfield Architects LLP",
    "Oakridge Dental Clinic",
    "Brightline Logistics",
    "Maple & Finch Bakery",
    "Silverstone Legal",
    "Quantum Leap Software",
    "Riverside Events Co",
    "Highland Outdoor Gear",
    "Crescent Media Group",
    "Atlas Engineering Ltd",
]

EMAIL_DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com"]

# (English, Russian) pairs; picked by the customer's language.
TICKET_SUBJECTS: list[tuple[str, str]] = [
    ("Laptop does not turn on", "Ноутбук не включается"),
    ("Battery drains within two hours", "Батарея садится за два часа"),
    ("Screen flickers after the update", "Мерцает экран после обновления"),
    ("Phone does not charge", "Телефон не заряжается"),
    ("Order arrived incomplete", "Заказ пришёл не полностью"),
    ("Delivery is late", "Задерживается доставка"),
    ("Wrong item delivered", "Привезли не тот товар"),
    ("Cannot activate the subscription", "Не удаётся активировать подписку"),
    ("Charged twice for one order", "Списали деньги дважды за один заказ"),
    ("Request for a refund", "Прошу вернуть деньги"),
    ("Warranty repair request", "Заявка на гарантийный ремонт"),
    ("Keyboard keys stick", "Западают клавиши клавиатуры"),
    ("Headphones lose Bluetooth connection", "Наушники теряют соединение по Bluetooth"),
    ("Invoice for the company needed", "Нужен счёт на юрлицо"),
    ("How to extend the warranty", "Как продлить гарантию"),
    ("Change the delivery address", "Изменить адрес доставки"),
    ("Support plan renewal question", "Вопрос о продлении сервисного контракта"),
    ("Cannot log in to my account", "Не могу войти в личный кабинет"),
    ("Promo code was not applied", "Не применился промокод"),
    ("Device overheats", "Устройство перегревается"),
]
CUSTOMER_OPENERS: list[tuple[str, str]] = [
    ("Hello, I need help with this, please.", "Здравствуйте, помогите, пожалуйста, разобраться."),
    ("Hi! This started yesterday evening.", "Добрый день! Началось вчера вечером."),
    (
        "Good morning. I have already tried restarting it.",
        "Доброе утро. Перезагружать уже пробовал(а).",
    ),
    ("Please call me back when you can.", "Перезвоните мне, пожалуйста, когда сможете."),
]
OPERATOR_REPLIES: list[tuple[str, str]] = [
    (
        "Thank you for contacting us. I am looking into it now.",
        "Спасибо за обращение, уже разбираюсь.",
    ),
    (
        "Could you send a photo of the label with the serial number?",
        "Пришлите, пожалуйста, фото наклейки с серийным номером.",
    ),
    (
        "I have passed this to our service centre; we will update you today.",
        "Передал(а) в сервисный центр, сегодня сообщим результат.",
    ),
    (
        "Please try the steps in the guide I have just sent you.",
        "Попробуйте, пожалуйста, шаги из инструкции, которую я отправил(а).",
    ),
]
RESOLUTION_NOTES: list[tuple[str, str]] = [
    ("The issue is fixed; a replacement is on its way.", "Вопрос решён, замена уже в пути."),
    ("Refund issued to the original card.", "Деньги возвращены на карту."),
    (
        "Firmware updated remotely; the device works again.",
        "Прошивка обновлена удалённо, всё работает.",
    ),
    (
        "Explained the settings; the customer confirmed.",
        "Объяснил(а) настройки, клиент подтвердил.",
    ),
]
CUSTOMER_FOLLOW_UPS: list[tuple[str, str]] = [
    ("It happened again, unfortunately.", "К сожалению, проблема повторилась."),
    ("Any news on my request?", "Есть новости по моей заявке?"),
    ("Here is the photo you asked for.", "Вот фото, которое вы просили."),
]
INTERNAL_NOTES: list[tuple[str, str]] = [
    ("Checked the order history: two earlier claims.", "Проверил(а) историю: две заявки ранее."),
    ("Escalated to the second line.", "Передано на вторую линию."),
    ("Waiting for the warehouse to confirm stock.", "Ждём подтверждения склада."),
]

INTERACTION_SUMMARIES: list[tuple[str, str]] = [
    ("Asked about the delivery date", "Уточнял(а) срок доставки"),
    ("Asked how to pay by invoice", "Спрашивал(а) про оплату по счёту"),
    ("Compared two laptop models", "Сравнивал(а) две модели ноутбуков"),
    ("Asked about the warranty terms", "Интересовался(ась) условиями гарантии"),
    ("Wanted to change the order", "Хотел(а) изменить заказ"),
    ("Asked about the status of the repair", "Спрашивал(а) о статусе ремонта"),
    ("Asked for a discount on accessories", "Просил(а) скидку на аксессуары"),
    ("Confirmed the pickup time", "Подтвердил(а) время самовывоза"),
]
CUSTOMER_NOTES: list[tuple[str, str]] = [
    ("Prefers calls after 6 pm.", "Предпочитает звонки после 18:00."),
    ("Buys for the whole office; ask about volume discounts.", "Закупает на весь офис."),
    ("Was unhappy with the last delivery; be extra careful.", "Был недоволен прошлой доставкой."),
    ("Long-time customer, knows the products well.", "Давний клиент, хорошо знает продукты."),
]

# Survey comments by sentiment: (English, Russian).
COMMENTS: dict[str, list[tuple[str, str]]] = {
    "positive": [
        ("Quick and polite, thank you!", "Быстро и вежливо, спасибо!"),
        ("The operator really knew the product.", "Оператор отлично разбирается в технике."),
        ("Solved in one call. Great service.", "Решили за один звонок. Отличный сервис."),
        (
            "They remembered my previous order, very convenient.",
            "Помнили мой прошлый заказ, очень удобно.",
        ),
        ("Everything works now, thanks a lot.", "Всё заработало, большое спасибо."),
    ],
    "neutral": [
        ("It was fine, but took a while.", "В целом нормально, но долго."),
        ("OK. Nothing special.", "Нормально, ничего особенного."),
        ("Solved, though I had to explain twice.", "Решили, но пришлось объяснять дважды."),
    ],
    "negative": [
        ("I waited on the line for too long.", "Слишком долго ждал(а) на линии."),
        (
            "Had to call three times about the same thing.",
            "Пришлось звонить три раза по одному вопросу.",
        ),
        ("Nobody called me back as promised.", "Обещали перезвонить и не перезвонили."),
        ("The problem is still not solved.", "Проблема так и не решена."),
    ],
}

SURVEY_QUESTIONS: dict[str, dict[str, str]] = {
    "CSAT": {
        "en": "How satisfied are you with how we handled your request?",
        "ru": "Насколько вы довольны тем, как мы решили ваш вопрос?",
    },
    "NPS": {
        "en": "How likely are you to recommend us to a friend or colleague?",
        "ru": "Насколько вероятно, что вы порекомендуете нас друзьям или коллегам?",
    },
    "CES": {
        "en": "How easy was it to get your issue resolved?",
        "ru": "Насколько легко было решить ваш вопрос?",
    },
}

CAMPAIGNS: dict[str, list[str]] = {
    "paid_search": ["yandex-direct-laptops", "google-ads-brand", "yandex-direct-phones"],
    "social": ["vk-back-to-school", "telegram-channel-promo", "instagram-spring"],
    "email": ["newsletter-black-friday", "newsletter-new-year", "win-back"],
    "referral": ["friend-referral-500", "partner-blogger"],
    "marketplace": ["ozon-store", "wildberries-store", "yandex-market"],
    "partner": ["corporate-partners", "reseller-program"],
}

TELEGRAM_SUFFIXES = ["", "_", "77", "_msk", "_spb", "2024", "_it", "_x"]

# Interests that name no product of the catalogue: (English, Russian).
FREE_INTERESTS: list[tuple[str, str]] = [
    ("A laptop for video editing under 150k", "Ноутбук для монтажа видео до 150 тысяч"),
    ("Ten phones for the sales team", "Десять телефонов для отдела продаж"),
    ("A tablet for a child", "Планшет для ребёнка"),
    ("Trade-in of an old laptop", "Трейд-ин старого ноутбука"),
]
TAGS = ["VIP", "wholesale", "B2B", "loyal", "complained", "newsletter", "tech-savvy", "reseller"]

# The demo support team: (username, first name, last name, language, team).
FIRST_LINE = "First line"
SECOND_LINE = "Second line"
OPERATOR_STAFF: list[tuple[str, str, str, str, str]] = [
    ("demo.olga", "Ольга", "Смирнова", "ru", FIRST_LINE),
    ("demo.ivan", "Иван", "Петров", "ru", FIRST_LINE),
    ("demo.emma", "Emma", "Clark", "en", FIRST_LINE),
    ("demo.dmitry", "Дмитрий", "Соколов", "ru", SECOND_LINE),
    ("demo.kate", "Екатерина", "Орлова", "ru", SECOND_LINE),
    ("demo.james", "James", "Turner", "en", SECOND_LINE),
]
SUPERVISOR_STAFF = ("demo.svetlana", "Светлана", "Волкова", "ru", FIRST_LINE)

# What a sent reminder says, by reminder kind: (English, Russian) with {product} and {date}.
REMINDER_TEXTS: dict[str, tuple[str, str]] = {
    "warranty": (
        "Reminder sent: the warranty on {product} ends on {date}",
        "Отправлено напоминание: гарантия на {product} заканчивается {date}",
    ),
    "support": (
        "Reminder sent: support for {product} ends on {date}",
        "Отправлено напоминание: сервисный контракт на {product} заканчивается {date}",
    ),
    "renewal": (
        "Reminder sent: {product} renews on {date}",
        "Отправлено напоминание: подписка {product} продлевается {date}",
    ),
}
