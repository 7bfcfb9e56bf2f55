/**
 * Short texts (one chat-sized sentence each) in the languages an avatar is most often asked
 * to speak, for measuring language detectors on what users actually send.
 */
export const LANGUAGE_SAMPLES: Readonly<Record<string, readonly string[]>> = {
  en: ['Hello, how are you today?', 'The weather is lovely this morning.', 'Thank you for calling, I will be right back.', 'Where is the train station?'],
  es: ['Hola, ¿cómo estás?', 'Gracias por tu ayuda de ayer.', 'Mañana vamos a la playa con mis amigos.', 'El tren sale a las ocho.'],
  fr: ['Bonjour, comment allez-vous ?', 'Merci beaucoup pour votre aide.', 'Nous partons demain matin à la mer.', 'Le train arrive à huit heures.'],
  de: ['Guten Morgen, wie geht es dir?', 'Vielen Dank für deine Hilfe.', 'Morgen fahren wir mit dem Zug nach Berlin.', 'Das Wetter ist heute schön.'],
  it: ['Ciao, come stai oggi?', 'Grazie mille per il tuo aiuto.', 'Domani andiamo al mare con gli amici.', 'Il treno parte alle otto.'],
  pt: ['Olá, tudo bem com você?', 'Muito obrigado pela sua ajuda.', 'Amanhã vamos à praia com os nossos amigos.', 'O comboio parte às oito horas.'],
  nl: ['Goedemorgen, hoe gaat het met je?', 'Hartelijk bedankt voor je hulp.', 'Morgen gaan we met de trein naar Amsterdam.', 'Het weer is vandaag erg mooi.'],
  pl: ['Dzień dobry, jak się masz?', 'Dziękuję bardzo za pomoc.', 'Jutro jedziemy pociągiem do Krakowa.', 'Pogoda jest dzisiaj bardzo ładna.'],
  sv: ['Hej, hur mår du idag?', 'Tack så mycket för hjälpen.', 'Imorgon åker vi tåg till Stockholm.', 'Vädret är väldigt fint idag.'],
  tr: ['Merhaba, bugün nasılsın?', 'Yardımın için çok teşekkür ederim.', 'Yarın trenle İstanbul\'a gidiyoruz.', 'Bugün hava çok güzel.'],
  ru: ['Привет, как у тебя дела?', 'Большое спасибо за помощь.', 'Завтра мы едем на поезде в Москву.', 'Сегодня очень хорошая погода.'],
  uk: ['Привіт, як у тебе справи?', 'Щиро дякую за допомогу.', 'Завтра ми їдемо потягом до Києва.', 'Сьогодні дуже гарна погода.'],
  el: ['Γεια σου, τι κάνεις σήμερα;', 'Ευχαριστώ πολύ για τη βοήθειά σου.', 'Αύριο πηγαίνουμε στη θάλασσα.', 'Ο καιρός είναι πολύ ωραίος σήμερα.'],
  ar: ['مرحبا، كيف حالك اليوم؟', 'شكرا جزيلا على مساعدتك.', 'سنذهب غدا إلى البحر مع أصدقائنا.', 'الطقس جميل جدا اليوم.'],
  fa: ['سلام، حال شما چطور است؟', 'از کمک شما بسیار سپاسگزارم.', 'فردا با قطار به تهران می‌رویم.', 'هوا امروز خیلی خوب است.'],
  he: ['שלום, מה שלומך היום?', 'תודה רבה על העזרה שלך.', 'מחר אנחנו נוסעים לים עם חברים.', 'מזג האוויר יפה מאוד היום.'],
  hi: ['नमस्ते, आप कैसे हैं?', 'आपकी मदद के लिए बहुत धन्यवाद।', 'कल हम ट्रेन से दिल्ली जाएंगे।', 'आज मौसम बहुत अच्छा है।'],
  zh: ['你好，很高兴认识你。', '今天天气非常好。', '明天我们坐火车去北京。', '谢谢你的帮助。'],
  ja: ['こんにちは、お元気ですか？', '今日はとても良い天気ですね。', '明日は電車で東京に行きます。', '手伝ってくれてありがとう。'],
  ko: ['안녕하세요, 잘 지내세요?', '오늘 날씨가 정말 좋네요.', '내일 기차를 타고 서울에 갑니다.', '도와주셔서 감사합니다.'],
  th: ['สวัสดีครับ คุณสบายดีไหม', 'ขอบคุณมากสำหรับความช่วยเหลือ', 'พรุ่งนี้เราจะไปทะเลกัน', 'วันนี้อากาศดีมาก'],
  vi: ['Xin chào, bạn có khỏe không?', 'Cảm ơn bạn rất nhiều vì đã giúp đỡ.', 'Ngày mai chúng tôi đi tàu đến Hà Nội.', 'Hôm nay thời tiết rất đẹp.'],
};
